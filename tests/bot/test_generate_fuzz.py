"""`/video generate` fuzzed through the domain layer: every mix of options and attachments
either becomes a valid request that is stored, or a refusal a member can read
(`bot.errors.UserError`); nothing else escapes, and a refusal stores nothing.

The request is built and judged as the cog and `cogs.video.flows.start_job` do: uploads as
`cogs.video.uploads` describes them (Discord's metadata plus the format their bytes show),
links as typed, the private-link rule, then `JobService.accept`. Hypothesis runs a fixed,
derandomised set of examples, so the suite stays fast and every run tries the same inputs.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.errors import UserError
from bot.media.sniff import Format
from bot.model_offer import RATIOS, RESOLUTIONS
from bot.moderation.requester import Requester
from bot.params import (
    UNKNOWN_FORMAT,
    GenerationRequest,
    MediaInput,
    local_link_problems,
    validate,
)

FUZZ = settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROMPT_MAX_CHARS = 2000
GUILD = 10

# Characters members paste by accident or on purpose: invisible, reordering, joining,
# combining, huge, lone surrogates (valid JSON escapes), and markdown and mentions.
ODD = (
    "\u200b\u200c\u200d\u2060\ufeff\u00ad\u202e\u202c\u2066\u2069\u200f\u061c\u3164\u2800"
    "\u0301\u0489\ufe0f\U000e0041\U000e007f\U0001f3f4\U0001f468\U0001f3fb\ud800\udfff\x00\x1b"
    "\t\r\n\u2028\u00a0\u3000*_~|`>#-[]()<@&!:/\\ "
)
odd_text = st.text(
    alphabet=st.one_of(st.characters(codec=None), st.sampled_from(ODD)), max_size=60
)
prompts = st.one_of(
    odd_text,
    st.builds(lambda a, b: a + b, st.sampled_from(["a fox ", "", "\u200b" * 3]), odd_text),
    st.integers(1990, 2010).map(lambda n: "x" * n),
)
huge_ints = st.one_of(
    st.integers(-(2**70), 2**70), st.sampled_from([-1, 0, 3, 4, 15, 16, 2**32 - 1, 2**32, 2**53])
)

hosts = st.one_of(
    st.sampled_from([
        "example.com", "cdn.example", "bücher.example", "xn--bcher-kva.example", "8.8.8.8",
        "[2606:4700::1111]", "localhost", "printer.local", "metadata.google.internal",
        "127.0.0.1", "127.1", "2130706433", "0x7f.0.0.1", "10.0.0.1", "169.254.169.254",
        "[::1]", "[::ffff:10.0.0.1]", "[fe80::1%25eth0]", "[::zz]", "[::1", "256.1.1.1",
        "exa mple.com", "", "a..b", "%31%32%37.0.0.1", "127。0。0。1",
    ]),
    odd_text,
)
links = st.one_of(
    st.builds(
        "{}{}{}{}{}".format,
        st.sampled_from(["https://", "http://", "HTTP://", "ftp://", "javascript:", "", "//"]),
        st.sampled_from(["", "user@", "user:pass@", ":@", "@"]),
        hosts,
        st.sampled_from(["", ":443", ":8080", ":0", ":65536", ":99999", ":abc"]),
        st.one_of(st.just("/a.png"), odd_text.map(lambda p: "/" + p)),
    ),
    odd_text,
)
typed_media = st.builds(MediaInput, url=links)
CDN = "https://cdn.discordapp.com/ephemeral-attachments/1/2/"
uploads = st.builds(
    MediaInput,
    url=st.sampled_from([CDN + "f", "http://127.0.0.1:5/attachments/1/2/f"]),
    filename=st.one_of(st.sampled_from(["a.png", "b.jpg", "c.mp4", "d.mp3"]), odd_text),
    content_type=st.one_of(
        st.none(),
        st.sampled_from([
            "image/png", "image/jpeg", "image/webp", "image/gif", "video/mp4", "video/quicktime",
            "video/webm", "audio/mpeg", "audio/wav", "audio/ogg", "text/plain",
            "IMAGE/PNG; charset=binary",
        ]),
        odd_text,
    ),
    size=st.one_of(st.none(), st.sampled_from([0, 1, 30 * 2**20, 60 * 2**20]), huge_ints),
    width=st.one_of(st.none(), st.integers(-10, 20_000)),
    height=st.one_of(st.none(), st.integers(-10, 20_000)),
    detected=st.one_of(st.none(), st.sampled_from([*map(str, Format), UNKNOWN_FORMAT])),
)
wild_media = st.one_of(typed_media, uploads)


def good_upload(kind: str) -> st.SearchStrategy[MediaInput]:
    """An upload the rules accept: of ``kind``, with a fitting type, size and pixel size."""
    content_type, formats = {
        "image": ("image/png", [Format.PNG, Format.JPEG, Format.WEBP]),
        "video": ("video/mp4", [Format.MP4, Format.MOV]),
        "audio": ("audio/mpeg", [Format.MP3, Format.WAV]),
    }[kind]
    side = st.integers(600, 3000) if kind == "image" else st.none()
    return st.builds(
        MediaInput,
        url=st.just(CDN + "f"),
        filename=odd_text.map(lambda name: name + ".file"),
        content_type=st.just(content_type),
        size=st.integers(1, 10 * 2**20),
        width=side,
        height=side,
        detected=st.one_of(st.none(), st.sampled_from([str(f) for f in formats])),
    )


def good_media(kind: str) -> st.SearchStrategy[MediaInput]:
    public = st.sampled_from(["https://example.com/", "https://bücher.example/", "http://8.8.8.8/"])
    link = st.builds(lambda base, path: MediaInput(url=base + path), public, st.from_regex(r"\w{1,12}", fullmatch=True))
    return st.one_of(good_upload(kind), link)


@st.composite
def generate_options(draw: st.DrawFn) -> GenerationRequest:
    """A request a member could reasonably send, then up to three fields sent wild."""
    fields = {
        "prompt": draw(st.builds(lambda a, b: a + b, st.just("a fox "), odd_text)),
        "duration": draw(st.integers(4, 15)),
        "resolution": draw(st.sampled_from(RESOLUTIONS)),
        "ratio": draw(st.sampled_from(RATIOS)),
        "seed": draw(st.one_of(st.none(), st.integers(0, 2**32 - 1))),
        "watermark": draw(st.booleans()),
        "generate_audio": draw(st.booleans()),
        "web_search": draw(st.booleans()),
    }
    mode = draw(st.sampled_from(["text", "frames", "references"]))
    if mode == "frames":
        fields["first_frame"] = draw(good_media("image"))
        fields["last_frame"] = draw(st.one_of(st.none(), good_media("image")))
    elif mode == "references":
        fields["reference_images"] = tuple(draw(st.lists(good_media("image"), min_size=1, max_size=3)))
        fields["reference_videos"] = tuple(draw(st.lists(good_media("video"), max_size=2)))
        fields["reference_audios"] = tuple(draw(st.lists(good_media("audio"), max_size=1)))
        fields["reference_asset_ids"] = tuple(draw(st.lists(st.sampled_from(["asset-1", "a_2"]), max_size=2)))
    for name in draw(st.sets(st.sampled_from(sorted(WILD)), max_size=3)):
        fields[name] = draw(WILD[name])
    return GenerationRequest(**fields)


media_tuples = st.lists(wild_media, max_size=13).map(tuple)
WILD: dict[str, st.SearchStrategy[object]] = {
    "prompt": prompts,
    "duration": huge_ints,
    "resolution": st.one_of(st.sampled_from(RESOLUTIONS), odd_text),
    "ratio": st.one_of(st.sampled_from(RATIOS), odd_text),
    "seed": st.one_of(st.none(), huge_ints),
    "first_frame": st.one_of(st.none(), wild_media),
    "last_frame": st.one_of(st.none(), wild_media),
    "reference_images": media_tuples,
    "reference_videos": st.lists(wild_media, max_size=4).map(tuple),
    "reference_audios": st.lists(wild_media, max_size=4).map(tuple),
    "reference_asset_ids": st.lists(
        st.one_of(st.sampled_from(["asset-1", "a" * 201, ""]), odd_text), max_size=4
    ).map(tuple),
}
members = itertools.count(1)


@FUZZ
@given(request=generate_options(), allow_private=st.booleans())
async def test_every_generate_request_is_stored_valid_or_refused_with_nothing_stored(
    services, request, allow_private
):
    requester = Requester(user_id=next(members), guild_id=GUILD, channel_id=20)
    before = await services.jobs.count_for_user(requester.user_id, GUILD)
    try:
        local = [] if allow_private else local_link_problems(request)
        if local:
            raise UserError(local[0])  # what `start_job` raises, before the job service
        job = await services.job_service.accept(requester, request)
    except UserError as refusal:
        event("refused")  # `--hypothesis-show-statistics` shows how the examples split
        assert refusal.message.strip()
        assert await services.jobs.count_for_user(requester.user_id, GUILD) == before
        return
    event("stored")
    assert await services.jobs.count_for_user(requester.user_id, GUILD) == before + 1
    stored = await services.jobs.get(job.id)
    assert stored is not None and stored.request.seed is not None  # picked when none was given
    assert stored.request == request.with_changes(
        seed=stored.request.seed if request.seed is None else request.seed
    )
    assert validate(stored.request, prompt_max_chars=PROMPT_MAX_CHARS) == []
    assert allow_private or local_link_problems(stored.request) == []
    assert stored.request_id is None  # stored before any provider call, never submitted here

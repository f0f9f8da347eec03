"""A message's files as the model's inputs: the image Animate starts from, the files Use as
reference hands over.

Anyone's message will do, so its files get the checks `/video generate`'s uploads get: each
is sorted by what its first bytes are (`MediaInput.detected`), else by the type Discord
declared, and the request made of them goes through `bot.params.validate` when it is
accepted, so a file that breaks the provider's rules is refused in the same words.
"""

from __future__ import annotations

from bot.errors import Refused
from bot.media.sniff import Format, MediaKind
from bot.params import GenerationRequest, MediaInput, quoted

_FORMATS = {str(f): f for f in Format}
_DECLARED: dict[str, MediaKind] = {"image/": "image", "video/": "video", "audio/": "audio"}


def kind_of(media: MediaInput) -> MediaKind | None:
    """Image, video or audio: what the file's bytes say, else what Discord declared."""
    found = _FORMATS.get(media.detected or "")
    if found is not None:
        return found.kind
    declared = (media.content_type or "").lower()
    for prefix, kind in _DECLARED.items():
        if declared.startswith(prefix):
            return kind
    return None


def animation_request(files: list[MediaInput]) -> GenerationRequest:
    """A request (its prompt still to be asked) starting from the message's first image,
    its aspect ratio following the image's; `Refused` when the message has no image."""
    for media in files:
        if kind_of(media) == "image":
            return GenerationRequest(prompt="", ratio="adaptive", first_frame=media)
    if files:
        raise Refused(
            "That message has no image to animate. For a video, press **Continue** on it, or "
            "use **Apps > Use as reference**."
        )
    raise Refused("That message has no file to animate: Animate works on a posted image.")


def reference_request(files: list[MediaInput]) -> GenerationRequest:
    """A request (its prompt still to be asked) with the message's files as reference
    images, videos and audio; `Refused`, naming them, for files that are none of these."""
    if not files:
        raise Refused("That message has no files to use as references.")
    sorted_files: dict[MediaKind, list[MediaInput]] = {"image": [], "video": [], "audio": []}
    unusable = []
    for media in files:
        kind = kind_of(media)
        if kind is None:
            unusable.append(media)
        else:
            sorted_files[kind].append(media)
    if unusable:
        raise Refused(
            *(
                f"{quoted(media.label)} is not an image, video or audio file: references are "
                "JPEG, PNG or WebP images, MP4 or MOV videos, and MP3 or WAV audio."
                for media in unusable
            )
        )
    return GenerationRequest(
        prompt="",
        reference_images=tuple(sorted_files["image"]),
        reference_videos=tuple(sorted_files["video"]),
        reference_audios=tuple(sorted_files["audio"]),
    )

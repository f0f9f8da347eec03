"""Discord's documented limits, and validators that answer the way Discord answers.

Every validator returns Discord's nested ``errors`` object (empty when the payload is fine):
``{"embeds": {"0": {"description": {"_errors": [{"code": ..., "message": ...}]}}}}``.
:class:`ApiError` carries a whole error response (status, code, message, errors).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MiB = 1024 * 1024

ACK_DEADLINE = 3.0  # seconds to answer an interaction
TOKEN_LIFETIME = 15 * 60.0  # seconds an interaction token stays valid
ATTACHMENT_URL_LIFETIME = 24 * 3600.0  # signed CDN links
NONCE_WINDOW = 5 * 60.0  # enforce_nonce deduplication window
SESSION_STARTS_PER_DAY = 1000  # IDENTIFYs a bot may send a day (GET /gateway/bot)

CONTENT_MAX = 2000
EMBEDS_MAX = 10
FILES_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
ACTION_ROWS_MAX = 5
ROW_COMPONENTS_MAX = 5
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
SELECT_OPTIONS_MAX = 25
MODAL_TITLE_MAX = 45
MODAL_COMPONENTS_MAX = 5
TEXT_INPUT_VALUE_MAX = 4000
CHOICES_MAX = 25
COMMAND_OPTIONS_MAX = 25
COMMAND_NAME_RE = re.compile(r"^[-_'\w]{1,32}$")
COMMAND_DESCRIPTION_MAX = 100
COMMANDS_MAX = 100  # slash commands per scope (global, or one guild)
COMMAND_NAME_MAX = 32
CONTEXT_MENUS_MAX = 5  # user commands, and message commands, per scope
INTEGER_MAX = 2**53
V2_COMPONENTS_MAX = 40

FLAG_HAS_THREAD = 1 << 5
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_COMPONENTS_V2 = 1 << 15


def upload_limit(boost_tier: int) -> int:
    """Per-file upload limit for bots: 10 MiB at tiers 0-1, 50 MiB at 2, 100 MiB at 3."""
    return {2: 50 * MiB, 3: 100 * MiB}.get(boost_tier, 10 * MiB)


@dataclass
class ApiError(Exception):
    """An error response exactly as Discord sends it."""

    status: int
    code: int
    message: str
    errors: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body

    def __str__(self) -> str:
        return f"{self.status} {self.code} {self.message} {self.errors or ''}".rstrip()


def invalid_form_body(errors: dict[str, Any]) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", errors)


# Canned errors, named after Discord's JSON error codes.
def unknown_channel() -> ApiError:
    return ApiError(404, 10003, "Unknown Channel")


def unknown_message() -> ApiError:
    return ApiError(404, 10008, "Unknown Message")


def unknown_webhook() -> ApiError:
    return ApiError(404, 10015, "Unknown Webhook")


def unknown_interaction() -> ApiError:
    return ApiError(404, 10062, "Unknown interaction")


def unknown_user() -> ApiError:
    return ApiError(404, 10013, "Unknown User")


def unknown_member() -> ApiError:
    return ApiError(404, 10007, "Unknown Member")


def unknown_role() -> ApiError:
    return ApiError(404, 10011, "Unknown Role")


def unknown_guild() -> ApiError:
    return ApiError(404, 10004, "Unknown Guild")


def unknown_command() -> ApiError:
    return ApiError(404, 10063, "Unknown application command")


def unauthorized() -> ApiError:
    return ApiError(401, 0, "401: Unauthorized")


def invalid_webhook_token() -> ApiError:
    return ApiError(401, 50027, "Invalid Webhook Token")


def missing_access() -> ApiError:
    return ApiError(403, 50001, "Missing Access")


def missing_permissions() -> ApiError:
    return ApiError(403, 50013, "Missing Permissions")


def cannot_dm() -> ApiError:
    return ApiError(403, 50007, "Cannot send messages to this user")


def cannot_reply_without_history() -> ApiError:
    return ApiError(403, 160002, "Cannot reply without permission to read message history")


def empty_message() -> ApiError:
    return ApiError(400, 50006, "Cannot send an empty message")


def already_acknowledged() -> ApiError:
    return ApiError(400, 40060, "Interaction has already been acknowledged.")


def entity_too_large() -> ApiError:
    return ApiError(413, 40005, "Request entity too large")


def thread_archived() -> ApiError:
    return ApiError(400, 50083, "Thread is archived")


def wrong_channel_type() -> ApiError:
    return ApiError(400, 50024, "Cannot execute action on this channel type")


def thread_already_created() -> ApiError:
    return ApiError(400, 160004, "A thread has already been created for this message")


def cannot_edit_other_users_message() -> ApiError:
    return ApiError(403, 50005, "Cannot edit a message authored by another user")


def _err(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def _too_long(limit: int) -> dict[str, Any]:
    return _err("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _too_short(limit: int) -> dict[str, Any]:
    return _err("BASE_TYPE_MIN_LENGTH", f"Must be {limit} or more in length.")


def _required() -> dict[str, Any]:
    return _err("BASE_TYPE_REQUIRED", "This field is required")


def _check_len(errors: dict, key: str, value: Any, limit: int) -> None:
    if isinstance(value, (str, list)) and len(value) > limit:
        errors[key] = _too_long(limit)


def validate_embed(embed: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Errors for one embed and its character count (title, description, fields, footer, author)."""
    errors: dict[str, Any] = {}
    _check_len(errors, "title", embed.get("title"), EMBED_TITLE_MAX)
    _check_len(errors, "description", embed.get("description"), EMBED_DESCRIPTION_MAX)
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    fields = embed.get("fields") or []
    if len(fields) > EMBED_FIELDS_MAX:
        errors["fields"] = _too_long(EMBED_FIELDS_MAX)
    for i, fld in enumerate(fields):
        ferr: dict[str, Any] = {}
        for key, limit in (("name", EMBED_FIELD_NAME_MAX), ("value", EMBED_FIELD_VALUE_MAX)):
            if not fld.get(key):
                ferr[key] = _required()
            _check_len(ferr, key, fld.get(key), limit)
        size += len(fld.get("name") or "") + len(fld.get("value") or "")
        if ferr:
            errors.setdefault("fields", {})[str(i)] = ferr
    footer = embed.get("footer") or {}
    if footer:
        ferr = {}
        _check_len(ferr, "text", footer.get("text"), EMBED_FOOTER_MAX)
        if ferr:
            errors["footer"] = ferr
        size += len(footer.get("text") or "")
    author = embed.get("author") or {}
    if author:
        aerr: dict[str, Any] = {}
        _check_len(aerr, "name", author.get("name"), EMBED_AUTHOR_MAX)
        if aerr:
            errors["author"] = aerr
        size += len(author.get("name") or "")
    return errors, size


def _validate_component(comp: dict[str, Any], errors: dict[str, Any]) -> None:
    ctype = comp.get("type")
    if "custom_id" in comp:
        _check_len(errors, "custom_id", comp.get("custom_id"), CUSTOM_ID_MAX)
    if ctype == 2:  # button
        _check_len(errors, "label", comp.get("label"), BUTTON_LABEL_MAX)
        if comp.get("style") == 5:
            if not comp.get("url"):
                errors["url"] = _required()
        elif comp.get("style") != 6 and not comp.get("custom_id"):
            errors["custom_id"] = _required()
    elif ctype in (3, 5, 6, 7, 8):  # selects
        if not comp.get("custom_id"):
            errors["custom_id"] = _required()
        if ctype == 3:
            _check_len(errors, "options", comp.get("options"), SELECT_OPTIONS_MAX)
    elif ctype == 4:  # text input
        _check_len(errors, "label", comp.get("label"), MODAL_TITLE_MAX)
        _check_len(errors, "value", comp.get("value"), TEXT_INPUT_VALUE_MAX)


def validate_components(components: Any, *, v2: bool = False) -> dict[str, Any]:
    """Errors for a message's ``components`` (classic action rows, or a loose check for v2)."""
    errors: dict[str, Any] = {}
    if not isinstance(components, list):
        return errors
    if v2:
        total = 0

        def walk(items: list) -> None:
            nonlocal total
            for item in items:
                total += 1
                walk(item.get("components") or [])
                if isinstance(item.get("accessory"), dict):
                    total += 1
                if isinstance(item.get("component"), dict):
                    total += 1

        walk(components)
        if total > V2_COMPONENTS_MAX:
            errors["components"] = _too_long(V2_COMPONENTS_MAX)
        return errors
    if len(components) > ACTION_ROWS_MAX:
        errors["components"] = _too_long(ACTION_ROWS_MAX)
        return errors
    for r, row in enumerate(components):
        rerr: dict[str, Any] = {}
        children = row.get("components") or []
        if row.get("type") != 1:
            rerr["type"] = _err("COMPONENT_TYPE_INVALID", "The specified component type is invalid in this context")
        elif len(children) > ROW_COMPONENTS_MAX:
            rerr["components"] = _too_long(ROW_COMPONENTS_MAX)
        else:
            for c, comp in enumerate(children):
                cerr: dict[str, Any] = {}
                _validate_component(comp, cerr)
                if cerr:
                    rerr.setdefault("components", {})[str(c)] = cerr
        if rerr:
            errors.setdefault("components", {})[str(r)] = rerr
    return errors


def validate_message(payload: dict[str, Any], *, editing: bool = False) -> dict[str, Any]:
    """Errors for a message create/edit body (content, embeds, components, allowed_mentions)."""
    errors: dict[str, Any] = {}
    content = payload.get("content")
    if content is not None and not isinstance(content, str):
        errors["content"] = _err("STRING_TYPE_CONVERT", "Could not interpret as string.")
    else:
        _check_len(errors, "content", content, CONTENT_MAX)
    embeds = payload.get("embeds") or []
    flags = payload.get("flags") or 0
    if len(embeds) > EMBEDS_MAX:
        errors["embeds"] = _too_long(EMBEDS_MAX)
    else:
        total = 0
        for i, embed in enumerate(embeds):
            eerr, size = validate_embed(embed)
            total += size
            if eerr:
                errors.setdefault("embeds", {})[str(i)] = eerr
        if total > EMBED_TOTAL_MAX and "embeds" not in errors:
            errors["embeds"] = _err(
                "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}"
            )
    v2 = bool(flags & FLAG_COMPONENTS_V2)
    cerr = validate_components(payload.get("components"), v2=v2)
    errors.update(cerr)
    if v2 and (content or embeds):
        errors.setdefault("content", _err(
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used when using MessageFlags.IS_COMPONENTS_V2",
        ))
    mentions = payload.get("allowed_mentions")
    if isinstance(mentions, dict):
        parse = mentions.get("parse") or []
        for kind in ("users", "roles"):
            if kind in parse and mentions.get(kind):
                errors.setdefault("allowed_mentions", _err(
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                ))
    return errors


THREAD_NAME_MAX = 100
AUTO_ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
SLOWMODE_MAX = 21600


def validate_thread(payload: dict[str, Any]) -> dict[str, Any]:
    """Errors for a start-thread body: ``name`` 1-100, ``auto_archive_duration`` one of four."""
    errors: dict[str, Any] = {}
    name = payload.get("name")
    if name is None:
        errors["name"] = _required()
    elif not isinstance(name, str):
        errors["name"] = _err("STRING_TYPE_CONVERT", "Could not interpret as string.")
    elif not 1 <= len(name) <= THREAD_NAME_MAX:
        errors["name"] = _err("BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {THREAD_NAME_MAX} in length.")
    duration = payload.get("auto_archive_duration")
    if duration is not None and duration not in AUTO_ARCHIVE_DURATIONS:
        errors["auto_archive_duration"] = _err(
            "BASE_TYPE_CHOICES", f"Value must be one of {{{', '.join(map(str, AUTO_ARCHIVE_DURATIONS))}}}.")
    slowmode = payload.get("rate_limit_per_user")
    if slowmode is not None and not (isinstance(slowmode, int) and 0 <= slowmode <= SLOWMODE_MAX):
        errors["rate_limit_per_user"] = _err(
            "NUMBER_TYPE_MAX", f"int value should be less than or equal to {SLOWMODE_MAX}.")
    return errors


def validate_modal(data: dict[str, Any]) -> dict[str, Any]:
    """Errors for a modal (callback type 9) ``data`` object."""
    errors: dict[str, Any] = {}
    title = data.get("title")
    if not title:
        errors["title"] = _required()
    _check_len(errors, "title", title, MODAL_TITLE_MAX)
    if not data.get("custom_id"):
        errors["custom_id"] = _required()
    _check_len(errors, "custom_id", data.get("custom_id"), CUSTOM_ID_MAX)
    comps = data.get("components") or []
    if not comps:
        errors["components"] = _too_short(1)
    elif len(comps) > MODAL_COMPONENTS_MAX:
        errors["components"] = _too_long(MODAL_COMPONENTS_MAX)
    else:
        for i, comp in enumerate(comps):
            inner = comp.get("components") or ([comp["component"]] if comp.get("component") else [])
            for c, child in enumerate(inner):
                cerr: dict[str, Any] = {}
                _validate_component(child, cerr)
                if cerr:
                    errors.setdefault("components", {}).setdefault(str(i), {}).setdefault(
                        "components", {}
                    )[str(c)] = cerr
    return errors


def validate_choices(choices: Any) -> dict[str, Any]:
    """Errors for an autocomplete result's ``choices``."""
    errors: dict[str, Any] = {}
    if not isinstance(choices, list):
        return {"choices": _required()}
    if len(choices) > CHOICES_MAX:
        return {"choices": _too_long(CHOICES_MAX)}
    for i, choice in enumerate(choices):
        cerr: dict[str, Any] = {}
        name = choice.get("name")
        if not name:
            cerr["name"] = _required()
        _check_len(cerr, "name", name, 100)
        if isinstance(choice.get("value"), str):
            _check_len(cerr, "value", choice.get("value"), 100)
        if cerr:
            errors.setdefault("choices", {})[str(i)] = cerr
    return errors


def _validate_option(opt: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    name = opt.get("name") or ""
    if not COMMAND_NAME_RE.match(name) or name != name.lower():
        errors["name"] = _err("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    desc = opt.get("description") or ""
    if not 1 <= len(desc) <= COMMAND_DESCRIPTION_MAX:
        errors["description"] = (
            _too_long(COMMAND_DESCRIPTION_MAX) if desc else _too_short(1)
        )
    choices = opt.get("choices") or []
    if len(choices) > CHOICES_MAX:
        errors["choices"] = _too_long(CHOICES_MAX)
    if choices and opt.get("autocomplete"):
        errors["autocomplete"] = _err(
            "APPLICATION_COMMAND_AUTOCOMPLETE_AND_CHOICES", "Autocomplete cannot be used with choices"
        )
    sub = opt.get("options") or []
    if len(sub) > COMMAND_OPTIONS_MAX:
        errors["options"] = _too_long(COMMAND_OPTIONS_MAX)
    else:
        seen_optional = False
        for i, child in enumerate(sub):
            cerr = _validate_option(child)
            if child.get("type") not in (1, 2):
                if child.get("required") and seen_optional:
                    cerr["required"] = _err(
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
                seen_optional = seen_optional or not child.get("required")
            if cerr:
                errors.setdefault("options", {})[str(i)] = cerr
    return errors


def _validate_context_menu(cmd: dict[str, Any]) -> dict[str, Any]:
    """A user (2) or message (3) command: a name of 1-32 characters (capitals and spaces
    allowed), no description (an empty one is fine), no options."""
    errors: dict[str, Any] = {}
    name = cmd.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= COMMAND_NAME_MAX:
        errors["name"] = _err("BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {COMMAND_NAME_MAX} in length.")
    if cmd.get("description"):
        errors["description"] = _err("APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION_INVALID",
                                     "Context menu commands cannot have description")
    if cmd.get("options"):
        # Discord refuses options on context menus; its exact code is not documented.
        errors["options"] = _err("APPLICATION_COMMAND_CONTEXT_MENU_OPTIONS_INVALID",
                                 "Context menu commands cannot have options")
    return errors


def too_many_commands(commands: list[dict[str, Any]]) -> ApiError | None:
    """30032 when one scope (global, or one guild) would hold more commands of a type than
    Discord allows: 100 slash commands, 5 user and 5 message commands."""
    for ctype, most in ((2, CONTEXT_MENUS_MAX), (3, CONTEXT_MENUS_MAX)):
        if sum(1 for c in commands if c.get("type", 1) == ctype) > most:
            return ApiError(400, 30032, f"Maximum number of application commands reached ({most})")
    return None


def validate_commands(commands: Any) -> dict[str, Any]:
    """Errors for a bulk command overwrite body (names, descriptions, options, choices)."""
    if not isinstance(commands, list):
        return {"_errors": [{"code": "ARRAY_TYPE_CONVERT", "message": "Could not interpret as array."}]}
    errors: dict[str, Any] = {}
    if sum(1 for c in commands if c.get("type", 1) == 1) > COMMANDS_MAX:
        return {"_errors": _too_long(COMMANDS_MAX)["_errors"]}
    seen: set[tuple[int, str]] = set()
    for i, cmd in enumerate(commands):
        ctype = cmd.get("type", 1)
        if ctype == 1:
            cerr = _validate_option(cmd)
        elif ctype in (2, 3):
            cerr = _validate_context_menu(cmd)
        else:
            cerr = {"type": _err("BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4}.")}
        key = (ctype, cmd.get("name"))
        if key in seen:
            cerr["name"] = _err("APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique")
        seen.add(key)
        if cerr:
            errors[str(i)] = cerr
    return errors

"""Discord's documented limits as pure functions: a body the real API would refuse gets its real error back.

Each `*_refusal` function returns None for a body Discord accepts, or the (status, JSON) Discord answers:
"Invalid Form Body" (50035) with an `errors` tree naming every offending field, or "Cannot send an empty
message" (50006). Limits: https://discord.com/developers/docs/resources/message (content, embeds),
https://discord.com/developers/docs/components/reference (components),
https://discord.com/developers/docs/interactions/application-commands (command definitions, autocomplete).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from tests.fake_discord.records import Upload

Response = tuple[int, dict[str, Any]]
FormErrors = list[tuple[list[str], str, str]]  # (path to the field, code, message)

CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
EMBED_TOTAL_LIMIT = 6000
ROWS_PER_MESSAGE = 5
BUTTONS_PER_ROW = 5
CHOICES_LIMIT = 25
FILES_PER_MESSAGE = 10
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024  # a server without boosts; INTERACTION_CREATE says so too
COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")
BUTTON, TEXT_INPUT, LABEL = 2, 4, 18
USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
EVERYONE_MENTION = re.compile(r"@(?:everyone|here)")  # an escaped one has a zero-width space after the @


def error(status: int, message: str, code: int = 0) -> Response:
    """Discord's plain error body."""
    return status, {"message": message, "code": code}


def form_error_body(errors: FormErrors, prefix: Iterable[str] = ()) -> dict[str, Any]:
    """The 50035 body: errors nested by field path, e.g. {"embeds": {"0": {"title": {"_errors": [...]}}}}."""
    tree: dict[str, Any] = {}
    for path, code, message in errors:
        node = tree
        for part in [*prefix, *path]:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
    return {"message": "Invalid Form Body", "code": 50035, "errors": tree}


def message_refusal(
    body: dict[str, Any], prefix: Iterable[str] = (), *, files: Sequence[Upload] = ()
) -> Response | None:
    """A new message (interaction response, follow-up or channel message): content, embeds, components, allowed
    mentions, and the number and size of its uploaded `files` (records.Upload)."""
    if not (body.get("content") or body.get("embeds") or body.get("components") or files):
        return error(400, "Cannot send an empty message", 50006)
    if any(len(f.data) > ATTACHMENT_SIZE_LIMIT for f in files):
        return error(413, "Request entity too large", 40005)
    errors: FormErrors = []
    if len(files) > FILES_PER_MESSAGE:
        errors.append((["files"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length."))
    _max_len(errors, ["content"], body.get("content"), CONTENT_LIMIT)
    _embed_errors(errors, body.get("embeds") or [])
    _component_errors(errors, body.get("components") or [])
    _mention_errors(errors, body.get("allowed_mentions"))
    return (400, form_error_body(errors, prefix)) if errors else None


def pings(content: str, allowed: dict[str, Any] | None, replied_user: int | None = None) -> dict[str, Any]:
    """Who a new message notifies, by Discord's allowed-mentions rules
    (https://discord.com/developers/docs/resources/message#allowed-mentions-object): without `allowed_mentions`
    every mention in the content pings, and so does a reply its author; with it, only the kinds in `parse`, the
    ids in `users` / `roles`, and the replied-to author when `replied_user` is true."""
    users = {int(u) for u in USER_MENTION.findall(content)}
    roles = {int(r) for r in ROLE_MENTION.findall(content)}
    everyone = EVERYONE_MENTION.search(content) is not None
    if allowed is None:
        replied = {replied_user} if replied_user else set()
        return {"everyone": everyone, "users": sorted(users | replied), "roles": sorted(roles)}
    parse = set(allowed.get("parse") or [])
    pinged_users = users if "users" in parse else users & {int(u) for u in allowed.get("users") or []}
    if replied_user and allowed.get("replied_user"):
        pinged_users.add(replied_user)
    pinged_roles = roles if "roles" in parse else roles & {int(r) for r in allowed.get("roles") or []}
    return {"everyone": everyone and "everyone" in parse, "users": sorted(pinged_users), "roles": sorted(pinged_roles)}


def autocomplete_refusal(data: dict[str, Any]) -> Response | None:
    errors: FormErrors = []
    choices = data.get("choices")
    if choices is None:
        errors.append((["data", "choices"], "BASE_TYPE_REQUIRED", "This field is required"))
    else:
        if len(choices) > CHOICES_LIMIT:
            errors.append((["data", "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
        for i, choice in enumerate(choices):
            _max_len(errors, ["data", "choices", str(i), "name"], choice.get("name"), 100, 1)
            if isinstance(choice.get("value"), str):
                _max_len(errors, ["data", "choices", str(i), "value"], choice["value"], 100)
    return (400, form_error_body(errors)) if errors else None


def modal_refusal(data: dict[str, Any]) -> Response | None:
    errors: FormErrors = []
    _max_len(errors, ["data", "title"], data.get("title"), 45, 1)
    _max_len(errors, ["data", "custom_id"], data.get("custom_id"), 100, 1)
    components = data.get("components") or []
    if not 1 <= len(components) <= 5:
        errors.append((["data", "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."))
    for i, top in enumerate(components):
        path = ["data", "components", str(i)]
        if top.get("type") == LABEL:
            _max_len(errors, [*path, "label"], top.get("label"), 45, 1)
        for item in walk_components([top]):
            if item.get("type") == TEXT_INPUT:
                _max_len(errors, [*path, "label"], item.get("label"), 45)
                _max_len(errors, [*path, "custom_id"], item.get("custom_id"), 100, 1)
                _max_len(errors, [*path, "placeholder"], item.get("placeholder"), 100)
                if int(item.get("max_length") or 0) > 4000:
                    errors.append(([*path, "max_length"], "NUMBER_TYPE_MAX", "Must be 4000 or less."))
    return (400, form_error_body(errors)) if errors else None


def commands_refusal(commands: Any) -> Response | None:
    """A bulk overwrite (PUT .../commands): every definition valid, names unique per type, within the caps."""
    if not isinstance(commands, list):
        return 400, form_error_body([([], "BASE_TYPE_ARRAY", "Must be an array.")])
    errors: FormErrors = []
    seen: set[tuple[int, str]] = set()
    for i, command in enumerate(commands):
        _command_errors(errors, [str(i)], command)
        key = (int(command.get("type", 1)), command.get("name", ""))
        if key in seen:
            errors.append(([str(i), "name"], "APPLICATION_COMMANDS_DUPLICATE_NAME", "Duplicate name"))
        seen.add(key)
    per_type = {t: sum(1 for c in commands if int(c.get("type", 1)) == t) for t in (1, 2, 3)}
    if per_type[1] > 100 or per_type[2] > 15 or per_type[3] > 15:
        errors.append(([], "BASE_TYPE_MAX_LENGTH", "Too many application commands"))
    return (400, form_error_body(errors)) if errors else None


def walk_components(components: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every component, rows and labels included, depth first."""
    for component in components or []:
        yield component
        yield from walk_components(component.get("components") or [])
        if isinstance(component.get("component"), dict):
            yield from walk_components([component["component"]])


def embed_size(embed: dict[str, Any]) -> int:
    """What counts towards the 6,000 characters of all embeds of a message."""
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    size += len((embed.get("footer") or {}).get("text") or "") + len((embed.get("author") or {}).get("name") or "")
    return size + sum(len(f.get("name") or "") + len(f.get("value") or "") for f in embed.get("fields") or [])


def _max_len(errors: FormErrors, path: list[str], value: Any, limit: int, minimum: int = 0) -> None:
    if value is None:
        return
    n = len(str(value))
    if n > limit:
        errors.append((path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."))
    elif n < minimum:
        errors.append((path, "BASE_TYPE_MIN_LENGTH", f"Must be {minimum} or more in length."))


def _embed_errors(errors: FormErrors, embeds: list[dict[str, Any]]) -> None:
    if len(embeds) > EMBEDS_PER_MESSAGE:
        errors.append((["embeds"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length."))
    for i, embed in enumerate(embeds):
        path = ["embeds", str(i)]
        _max_len(errors, [*path, "title"], embed.get("title"), 256)
        _max_len(errors, [*path, "description"], embed.get("description"), 4096)
        _max_len(errors, [*path, "footer", "text"], (embed.get("footer") or {}).get("text"), 2048)
        _max_len(errors, [*path, "author", "name"], (embed.get("author") or {}).get("name"), 256)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors.append(([*path, "fields"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
        for j, f in enumerate(fields):
            _max_len(errors, [*path, "fields", str(j), "name"], f.get("name"), 256, 1)
            _max_len(errors, [*path, "fields", str(j), "value"], f.get("value"), 1024, 1)
        colour = embed.get("color")
        if colour is not None and not 0 <= int(colour) <= 0xFFFFFF:
            errors.append(([*path, "color"], "NUMBER_TYPE_MAX", "int value should be less than or equal to 16777215."))
    if sum(embed_size(e) for e in embeds) > EMBED_TOTAL_LIMIT:
        errors.append((["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"))


def _component_errors(errors: FormErrors, rows: list[dict[str, Any]]) -> None:
    """Action rows of buttons (the layout discord.ui.View sends)."""
    if len(rows) > ROWS_PER_MESSAGE:
        errors.append((["components"], "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length."))
    for i, row in enumerate(rows):
        if row.get("type") != 1:
            errors.append((["components", str(i)], "UNION_TYPE_CHOICES", "Value of field must be 1"))
            continue
        children = row.get("components") or []
        if not 1 <= len(children) <= BUTTONS_PER_ROW:
            errors.append((["components", str(i), "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5"))
        if len(children) > 1 and any(c.get("type") != BUTTON for c in children):
            errors.append((["components", str(i), "components"], "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Too wide"))
    seen: set[str] = set()
    for component in walk_components(rows):
        custom_id = component.get("custom_id")
        if component.get("type") == BUTTON:
            if component.get("style") == 5 and not component.get("url"):
                errors.append((["components"], "BUTTON_LINK_URL_REQUIRED", "A link button requires a url"))
            if component.get("style") not in (5, 6) and not custom_id:
                errors.append((["components"], "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED", "custom_id required"))
            _max_len(errors, ["components", "label"], component.get("label"), 80)
        if custom_id is not None:
            _max_len(errors, ["components", "custom_id"], custom_id, 100, 1)
            if custom_id in seen:
                errors.append(
                    (["components"], "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
                )
            seen.add(custom_id)


def _mention_errors(errors: FormErrors, allowed: dict[str, Any] | None) -> None:
    if allowed is None:
        return
    parse = allowed.get("parse") or []
    for value in parse:
        if value not in ("roles", "users", "everyone"):
            errors.append((["allowed_mentions", "parse"], "BASE_TYPE_CHOICES", f"Value {value!r} invalid"))
    for kind in ("users", "roles"):
        if kind in parse and allowed.get(kind):
            errors.append(
                (["allowed_mentions"], "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE", f"parse:[{kind}] and {kind}")
            )
        if len(allowed.get(kind) or []) > 100:
            errors.append((["allowed_mentions", kind], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."))


def _command_errors(errors: FormErrors, path: list[str], command: dict[str, Any]) -> None:
    kind = command.get("type", 1)
    name = command.get("name") or ""
    # Slash commands: lowercase, no spaces. Context menus: any 1-32 characters.
    valid = bool(COMMAND_NAME.match(name)) and name == name.lower() if kind == 1 else 1 <= len(name) <= 32
    if not valid:
        errors.append(([*path, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"))
    if kind == 1:
        _max_len(errors, [*path, "description"], command.get("description") or "", 100, 1)
        _option_errors(errors, [*path, "options"], command.get("options") or [])
    elif command.get("description"):
        errors.append(([*path, "description"], "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION", "Must be empty"))


def _option_errors(errors: FormErrors, path: list[str], options: list[dict[str, Any]]) -> None:
    if len(options) > 25:
        errors.append((path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
    seen_optional = False
    names: set[str] = set()
    for i, option in enumerate(options):
        at = [*path, str(i)]
        name = option.get("name") or ""
        if not COMMAND_NAME.match(name) or name != name.lower():
            errors.append(([*at, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"))
        if name in names:
            errors.append(([*at, "name"], "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Duplicate name"))
        names.add(name)
        _max_len(errors, [*at, "description"], option.get("description") or "", 100, 1)
        if not option.get("required"):
            seen_optional = True
        elif seen_optional:
            errors.append(
                (
                    [*at, "required"],
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
            )
        choices = option.get("choices") or []
        if len(choices) > CHOICES_LIMIT:
            errors.append(([*at, "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
        if choices and option.get("autocomplete"):
            errors.append(([*at, "autocomplete"], "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_CHOICES", "Both"))

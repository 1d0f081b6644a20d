"""E-mail to segments: one message (.eml) or a mailbox of many (.mbox), each hit deep-linked to its message.

Messages are parsed by the standard library (`email`, policy `email.policy.default`); a mailbox is split at its
"From " lines as `mailbox.mbox` splits it, but streamed one message at a time (mbox_messages says why), so a
mailbox of any length is read in bounded memory. A message gives its text: of each multipart/alternative the
text/plain part (else the HTML one, read to its main text by ingest/html.py), every other inline text part, and
forwarded messages (message/rfc822) inside it; pictures inside an HTML body (multipart/related) are its furniture, like a PDF's logos, and are
skipped. Its first segment starts with its headers (Subject, From, To, Date, the attachments' names), so it is
found by them too. Every segment of a message carries them in its payload: `subject`, `sender` (and
`sender_address`, `sender_terms` for the `from:` filter, `subject_terms` for `subject:`), `recipients`, `sent`
(ISO, parsed with email.utils; also the segment's `date`, so after:/before: filter on when it was sent),
`message_id` and `message` (its number in the file, 1-based, as people count pages): a hit opens that message.

Attachments: one whose type Omnidex reads (by its file name's extension, as a file would be: a PDF, a picture,
a deck, a web page, ...) is decoded to a temporary file and read by that type's own extractor; its segments
belong to the mail file itself (so removal, reindexing and crash safety are those of any file), with locators
under their message (`m3:a1:p2:c0`), their own places (page, slide, lines, ...) and `attachment` (its file
name) and `attachment_of` (the message's Message-ID, else "message N"). An attached .eml is read as a
forwarded message. Attachments of other types are named in the message's headers and not read.

Budgets: the file-size limit (OMNIDEX_MAX_FILE_MB) before a byte is read; the text budget per file
(OMNIDEX_MAX_TEXT_CHARS_PER_FILE) counts messages and attachments together and stops the reading, recording
the file as partial; a message's text is cut at OMNIDEX_MAX_TEXT_CHARS_PER_PAGE. An attachment over
OMNIDEX_MAX_ATTACHMENT_MB (decoded) is not read, a message is read up to twice that, and MIME parts nested
deeper than OMNIDEX_MAX_MAIL_DEPTH are not walked; each is recorded. Header and body text in an unknown or
wrong charset is decoded by a guess (ingest/text.py's decode_text) and recorded in the segment's payload
(`encoding_guessed`), never a crash.
"""

from __future__ import annotations

import dataclasses
import email.policy
import logging
import mimetypes
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import errors as mail_errors
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from datetime import timezone
from pathlib import Path
from typing import Any

from core.schema import FileType, Modality, Segment, address_terms, word_terms
from ingest.errors import ExtractionError
from ingest.extraction import ExtractContext, Extraction
from ingest.limits import MB, Losses, TextBudget, setting_name
from ingest.text import SNIFF_BYTES, decode_text, read_head, refuse_binary

log = logging.getLogger(__name__)

MAILBOX_SUFFIXES = frozenset({".mbox"})
# A message must have one of these to be one: a text file under an .eml name has none.
MAIL_HEADERS = ("from", "to", "subject", "date", "message-id", "received", "mime-version")
MESSAGE_READ_FACTOR = 2  # a message is read up to this many times the attachment budget (base64 adds a third)
READ_BLOCK = 1 << 20
READ_LINE = 1 << 16
SHOWN_RECIPIENTS = 10  # in the header lines of a message's first segment
KEPT_RECIPIENTS = 100  # in every segment's payload: a message to thousands would repeat them in each
MAX_HEADER_CHARS = 1_000  # a subject, sender or Message-ID longer than this (a hostile one) is cut
MAX_RAW_HEADER_CHARS = 8_000  # of a header as it is written: room for KEPT_RECIPIENTS addresses
_PARSER = BytesParser(policy=email.policy.default)
_QUOTED_FROM = re.compile(rb">+From ")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass
class Headers:
    """What a message says of itself, decoded."""

    subject: str | None = None
    sender: str | None = None
    sender_name: str = ""
    sender_address: str = ""
    recipients: list[str] = field(default_factory=list)
    sent: str | None = None  # ISO 8601
    message_id: str | None = None
    guessed: bool = False  # some header was in an unknown charset or raw 8-bit bytes, decoded by a guess

    def payload(self, number: int) -> dict[str, Any]:
        extra: dict[str, Any] = {"message": number}
        if self.subject:
            extra["subject"] = self.subject
            extra["subject_terms"] = word_terms(self.subject)
        if self.sender:
            extra["sender"] = self.sender
            if self.sender_address:
                extra["sender_address"] = self.sender_address
            extra["sender_terms"] = address_terms(self.sender_name, self.sender_address)
        if self.recipients:
            extra["recipients"] = self.recipients
        if self.sent:
            extra["sent"] = self.sent
            extra["date"] = self.sent  # the date filters read: when the message was sent
        if self.message_id:
            extra["message_id"] = self.message_id
        if self.guessed:
            extra["encoding_guessed"] = True
        return extra


@dataclass
class Parts:
    """A message's MIME tree, walked: the text to index and the attachments to read."""

    texts: list[str] = field(default_factory=list)
    attachments: list[tuple[str, Message]] = field(default_factory=list)  # (file name, part)
    names: list[str] = field(default_factory=list)  # every attachment's name, read or not
    guessed: bool = False
    notes: list[str] = field(default_factory=list)


def extract_mail(path: Path, ctx: ExtractContext) -> Extraction:
    s = ctx.settings
    losses = Losses()
    read_limit = int(s.max_attachment_mb * MB * MESSAGE_READ_FACTOR)
    if path.suffix.lower() in MAILBOX_SUFFIXES:
        head, _ = read_head(path, SNIFF_BYTES)
        _refuse_binary(head, "an mbox mailbox")
        count = count_messages(path)
        return Extraction(info={"message_count": count},
                          segments=_mailbox_segments(path, count, read_limit, ctx, losses), losses=losses)
    data, cut = read_head(path, read_limit)
    _refuse_binary(data, "an e-mail message")
    message = _parse(data, 1, losses)
    if message is None:
        raise ExtractionError(f"corrupt e-mail message: {losses.summary()}")
    if not _is_mail(message):
        raise ExtractionError("not an e-mail message: no mail headers (From, To, Subject, Date, Message-ID) at its "
                              "start")
    if cut:
        losses.add(_cut_note(1, read_limit))
    headers = read_headers(message)
    info = {"message_count": 1}
    if headers.subject:
        info["title"] = headers.subject
    if headers.sent:
        info["created"] = headers.sent
    budget = TextBudget(s, losses, "message", 1)
    return Extraction(info=info, segments=_message_segments(message, headers, 1, ctx, budget, losses),
                      losses=losses)


def _refuse_binary(data: bytes, kind: str) -> None:
    try:
        refuse_binary(data)
    except ExtractionError as e:
        raise ExtractionError(str(e).replace("not a text file", f"not {kind}")) from None


def _cut_note(number: int, read_limit: int) -> str:
    return (f"message {number}: only its first {read_limit / MB:,.0f} MB were read, twice the attachment budget "
            f"({setting_name('max_attachment_mb')}): the attachments after that were not read")


def _parse(data: bytes, number: int, losses: Losses) -> EmailMessage | None:
    """The message, or None (and why, in `losses`) when the email package cannot parse it at all."""
    try:
        return _PARSER.parsebytes(data)
    except RecursionError:
        losses.add(f"message {number}: its MIME parts are nested too deeply for the e-mail parser: not read")
    except Exception as e:  # the email package raises several types on hostile input
        losses.add(f"message {number} cannot be parsed: {type(e).__name__}: {e}")
    return None


def _is_mail(message: Message) -> bool:
    return any(name in message for name in MAIL_HEADERS)


def count_messages(path: Path) -> int:
    """How many messages a mailbox holds (its lines starting "From "), in one pass of constant memory."""
    count, tail = 0, b"\n"
    try:
        with path.open("rb") as f:
            while block := f.read(READ_BLOCK):
                joined = tail + block
                count += joined.count(b"\nFrom ")
                tail = joined[-(len(b"\nFrom ") - 1):]
    except OSError as e:
        raise ExtractionError(f"cannot read file: {e.strerror or e}") from e
    return count


def mbox_messages(path: Path, read_limit: int) -> Iterator[tuple[bytes, bool]]:
    """Each message of a mailbox, without its "From " line, and whether it was cut at `read_limit` bytes.

    The file is split where mailbox.mbox splits it (at every line starting "From "), but streamed: mailbox.mbox
    builds a table of every message before it reads the first, and a file of millions of tiny messages would
    make that table gigabytes. A body line the writer quoted (">From ") loses one ">". Lines are read in pieces of at most READ_LINE bytes, so a file without line
    breaks is no one line in memory either."""
    data = bytearray()
    cut = started = False
    at_line_start = True
    try:
        with path.open("rb") as f:
            while line := f.readline(READ_LINE):
                if at_line_start and line.startswith(b"From "):
                    if started:
                        yield bytes(data), cut
                    data, cut, started = bytearray(), False, True
                elif started and not cut:
                    if at_line_start and _QUOTED_FROM.match(line):  # a body line the writer quoted (mboxrd)
                        line = line[1:]
                    if len(data) + len(line) <= read_limit:
                        data += line
                    else:
                        cut = True
                at_line_start = line.endswith(b"\n")
    except OSError as e:
        raise ExtractionError(f"cannot read the mailbox: {e.strerror or e}") from e
    if started:
        yield bytes(data), cut


def _mailbox_segments(path: Path, count: int, read_limit: int, ctx: ExtractContext, losses: Losses
                      ) -> Iterator[Segment]:
    budget = TextBudget(ctx.settings, losses, "message", count)
    for number, (data, cut) in enumerate(mbox_messages(path, read_limit), 1):
        if budget.spent(number):
            return
        if cut:
            losses.add(_cut_note(number, read_limit))
        message = _parse(data, number, losses)
        if message is None:
            continue
        if not _is_mail(message):
            losses.add(f"message {number}: no mail headers (From, To, Subject, Date, Message-ID): not read")
            continue
        yield from _message_segments(message, read_headers(message), number, ctx, budget, losses)


def read_headers(message: Message) -> Headers:
    """Subject, sender, recipients, date and Message-ID, decoded; a header that cannot be decoded is guessed."""
    headers = Headers()
    subject, guessed = _header(message, "subject")
    headers.subject = " ".join(subject.split())[:MAX_HEADER_CHARS] if subject and subject.strip() else None
    headers.guessed |= guessed
    sender, guessed = _header(message, "from")
    headers.guessed |= guessed
    if sender:
        headers.sender = " ".join(sender.split())[:MAX_HEADER_CHARS]
        name, address = next(iter(_parsed_addresses(headers.sender)), ("", ""))
        headers.sender_name, headers.sender_address = name, address.lower() if "@" in address else ""
    for name in ("to", "cc"):
        value, guessed = _header(message, name)
        headers.guessed |= guessed
        if value and len(headers.recipients) < KEPT_RECIPIENTS:
            headers.recipients.extend(_addresses(value)[: KEPT_RECIPIENTS - len(headers.recipients)])
    date, _ = _header(message, "date")
    if date:
        try:
            sent = parsedate_to_datetime(date)
        except (TypeError, ValueError, IndexError, OverflowError):
            sent = None
        if sent is not None:
            headers.sent = (sent if sent.tzinfo else sent.replace(tzinfo=timezone.utc)).isoformat()
    message_id, _ = _header(message, "message-id")
    if message_id and message_id.strip():
        headers.message_id = message_id.strip()[:MAX_HEADER_CHARS]
    return headers


def _parsed_addresses(value: str) -> list[tuple[str, str]]:
    try:
        return getaddresses([value])
    except Exception:  # hostile address lists
        return [("", value)]


def _addresses(value: str) -> list[str]:
    people = []
    for name, address in _parsed_addresses(value):
        if name and address:
            people.append(f"{name} <{address}>")
        elif address or name:
            people.append(address or name)
    return people


def _header(message: Message, name: str) -> tuple[str | None, bool]:
    """One header decoded (encoded words too), and whether any of it was a guess; never raises.

    Where the email package gave up on part of it (raw 8-bit bytes, an encoded word in a charset no codec
    knows: it puts U+FFFD there) the raw header is decoded again, piece by piece, guessing those pieces."""
    raw = next((v for k, v in message.raw_items() if k.lower() == name), None)
    if raw is None:
        return None, False
    raw = str(raw)[:MAX_RAW_HEADER_CHARS]  # the package's header parser takes seconds on a header of 100 kB
    try:
        text = str(email.policy.default.header_fetch_parse(name, raw))  # what message.get(name) does
    except Exception:  # the header parser of the email package fails on some hostile values
        text = "\ufffd"
    if "\ufffd" in text:
        text, _ = _clean(_decode_raw_header(raw))
        return text, True
    return _clean(text)


def _decode_raw_header(raw: str) -> str:
    """A raw header (8-bit bytes kept as surrogates), its encoded words decoded, unknown charsets guessed."""
    from email.header import decode_header

    raw = raw.encode("utf-8", "surrogateescape").decode("latin-1")  # one character a byte, as decode_header wants
    try:
        pieces = decode_header(raw)
    except Exception:  # a malformed encoded word: the header as it stands
        pieces = [(raw, None)]
    decoded = []
    for chunk, charset in pieces:
        data = chunk.encode("latin-1", "replace") if isinstance(chunk, str) else chunk
        try:
            decoded.append(data.decode(charset or "ascii"))
        except (LookupError, UnicodeDecodeError):
            try:
                decoded.append(decode_text(data)[0])
            except ExtractionError:
                decoded.append(data.decode("latin-1"))
    return " ".join("".join(decoded).split())


def _clean(text: str) -> tuple[str, bool]:
    """Text the email package decoded, made storable: raw 8-bit bytes it kept as surrogates, and the
    replacement characters of an unknown charset, are decoded again by a guess."""
    guessed = "\ufffd" in text
    if any("\udc80" <= c <= "\udcff" for c in text):
        raw = text.encode("utf-8", "surrogateescape")
        try:
            text, _, guessed_now = decode_text(raw)
        except ExtractionError:
            text, guessed_now = raw.decode("latin-1"), True
        guessed = guessed or guessed_now
    text = text.encode("utf-8", "replace").decode("utf-8")  # any surrogate left is no character
    return _CONTROL.sub(" ", text), guessed


def _message_segments(message: EmailMessage, headers: Headers, number: int, ctx: ExtractContext,
                      budget: TextBudget, losses: Losses) -> Iterator[Segment]:
    s = ctx.settings
    parts = Parts()
    walk(message, parts, 0, s.max_mail_depth)
    for note in parts.notes:
        losses.add(f"message {number}: {note}")
    extra = headers.payload(number)
    if parts.guessed:
        extra["encoding_guessed"] = True
    text = budget.take("\n\n".join([header_lines(headers, parts.names), *parts.texts]), number)
    for n, chunk in enumerate(ctx.chunker.chunks(text)):
        yield Segment(locator=f"m{number}:c{n}", modality=Modality.TEXT, text=chunk.text, context=chunk.window,
                      context_span=chunk.span, extra=dict(extra))
    link = headers.message_id or f"message {number}"
    for k, (name, part) in enumerate(parts.attachments, 1):
        if budget.spent(number):
            return
        yield from _attachment_segments(part, name, f"m{number}:a{k}", number, ctx, budget, losses,
                                        {**extra, "attachment": name, "attachment_of": link})


def header_lines(headers: Headers, attachments: list[str]) -> str:
    """The lines a message is found by besides its text, at the head of its first segment."""
    lines = []
    if headers.subject:
        lines.append(f"Subject: {headers.subject}")
    if headers.sender:
        lines.append(f"From: {headers.sender}")
    if headers.recipients:
        more = len(headers.recipients) - SHOWN_RECIPIENTS
        lines.append("To: " + ", ".join(headers.recipients[:SHOWN_RECIPIENTS]) + (f" and {more} more" if more > 0
                                                                                    else ""))
    if headers.sent:
        lines.append(f"Date: {headers.sent[:10]}")
    if attachments:
        lines.append("Attachments: " + ", ".join(attachments))
    return "\n".join(lines)


def walk(part: Message, parts: Parts, depth: int, max_depth: int) -> None:
    """Collect a MIME tree's text and attachments, no deeper than `max_depth` levels."""
    if depth > max_depth:
        note = (f"parts nested deeper than {max_depth} levels were not read ({setting_name('max_mail_depth')})")
        if note not in parts.notes:
            parts.notes.append(note)
        return
    content_type = part.get_content_type()
    if any(isinstance(d, mail_errors.CloseBoundaryNotFoundDefect) for d in part.defects):
        note = "the message is cut short or damaged (a MIME part has no closing boundary)"
        if note not in parts.notes:
            parts.notes.append(note)
    if content_type == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            _forwarded(inner[0], parts, depth, max_depth)
        return
    if part.is_multipart():
        children = [c for c in (part.get_payload() or []) if isinstance(c, Message)]
        if content_type == "multipart/alternative" and children:
            plain = [c for c in children if c.get_content_type() == "text/plain" and _has_text(c)]
            walk(plain[0] if plain else children[-1], parts, depth + 1, max_depth)  # the richest comes last
        elif content_type == "multipart/related" and children:
            walk(children[0], parts, depth + 1, max_depth)  # the HTML; the rest are its pictures
        else:
            for child in children:
                walk(child, parts, depth + 1, max_depth)
        return
    disposition = part.get_content_disposition()
    name = _file_name(part, len(parts.names) + 1)
    if part.get_content_maintype() == "text" and part.get_content_subtype() in ("plain", "html") \
            and disposition != "attachment":
        text = _part_text(part, parts)
        if text:
            parts.texts.append(text)
    elif name is not None:
        parts.names.append(name)
        if Path(name).suffix.lower() == ".eml":  # a forwarded message attached as a file
            inner = _attached_message(part)
            if inner is not None:
                _forwarded(inner, parts, depth, max_depth)
                return
        parts.attachments.append((name, part))


def _forwarded(inner: Message, parts: Parts, depth: int, max_depth: int) -> None:
    """A message inside the message: its headers and text are read as part of it."""
    headers = read_headers(inner)
    parts.guessed |= headers.guessed
    lines = header_lines(headers, [])
    if lines:
        parts.texts.append("Forwarded message\n" + lines)
    walk(inner, parts, depth + 1, max_depth)


def _attached_message(part: Message) -> Message | None:
    """An attached .eml as a message (it is no bigger than the message holding it, read within its budget)."""
    try:
        inner = _PARSER.parsebytes(part.get_payload(decode=True) or b"")
    except Exception:  # RecursionError and the parser's own: read as an attachment instead (and fail there)
        return None
    return inner if _is_mail(inner) else None


def _has_text(part: Message) -> bool:
    payload = part.get_payload()
    return isinstance(payload, str) and bool(payload.strip())


def _file_name(part: Message, n: int) -> str | None:
    """An attachment's file name, made safe to show; None for a part that is neither named nor an attachment."""
    try:
        name = part.get_filename()
    except Exception:  # a hostile filename parameter
        name = None
    if name:
        name, _ = _clean(name)
        name = Path(name.replace("\\", "/")).name.strip() or None
    maintype = part.get_content_maintype()
    if name is None and part.get_content_disposition() != "attachment" and maintype not in ("application",
                                                                                           "image", "audio",
                                                                                           "video"):
        return None
    if name is None:
        name = f"attachment {n}{mimetypes.guess_extension(part.get_content_type()) or ''}"
    return name[:200]


def _part_text(part: Message, parts: Parts) -> str:
    """A text part's text: by its declared charset; a charset that is unknown or wrong is guessed and
    recorded. HTML is read to its main text."""
    raw = part.get_payload(decode=True) or b""
    if not raw.strip():
        return ""
    charset = part.get_content_charset()
    text = None
    if charset:
        try:
            text = raw.decode(charset)
        except (LookupError, UnicodeDecodeError):
            text = None
    if text is None:
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            try:
                text, _, guessed = decode_text(raw)
            except ExtractionError as e:
                parts.notes.append(f"a {part.get_content_type()} part is {str(e).removeprefix('not a text file: ')}"
                                   f": not read")
                return ""
            parts.guessed |= guessed or bool(charset)
    if part.get_content_subtype() == "html":
        from ingest.html import main_text

        try:
            return main_text(('<meta charset="utf-8">' + text).encode("utf-8"))
        except ExtractionError as e:
            parts.notes.append(f"its HTML body cannot be read: {e}")
            return ""
    return text.replace("\r\n", "\n").replace("\x00", "")


def _attachment_segments(part: Message, name: str, prefix: str, number: int, ctx: ExtractContext,
                         budget: TextBudget, losses: Losses, extra: dict[str, Any]) -> Iterator[Segment]:
    """An attachment read by its own type's extractor from a temporary file, its segments under the message."""
    from ingest.files import EXTENSIONS, inspect
    from ingest.indexer import EXTRACTORS  # imported here: the indexer's table holds this module's extractor

    s = ctx.settings
    suffix = Path(name).suffix.lower()
    file_type = EXTENSIONS.get(suffix)
    extractor = EXTRACTORS.get(file_type) if file_type not in (None, FileType.MAIL) else None
    if extractor is None:
        return  # a type Omnidex does not read: named in the message's headers only
    where = f"message {number}, attachment {name!r}"
    limit_mb = min(s.max_attachment_mb, s.max_file_mb)
    encoded = part.get_payload()
    if isinstance(encoded, str) and len(encoded) * 3 // 4 > limit_mb * MB * 1.05:  # before decoding it
        losses.add(f"{where}: skipped: about {len(encoded) * 3 // 4 / MB:,.1f} MB, over the attachment budget of "
                   f"{limit_mb:,g} MB ({setting_name('max_attachment_mb')})")
        return
    try:
        data = part.get_payload(decode=True) or b""
    except Exception as e:
        losses.add(f"{where} cannot be decoded: {e}")
        return
    if len(data) > limit_mb * MB:
        losses.add(f"{where}: skipped: {len(data) / MB:,.1f} MB, over the attachment budget of {limit_mb:,g} MB "
                   f"({setting_name('max_attachment_mb')})")
        return
    sub = dataclasses.replace(ctx, settings=s.model_copy(update={"max_text_chars_per_file": max(budget.left, 1),
                                                                 "max_file_mb": limit_mb}))
    with tempfile.TemporaryDirectory(prefix="omnidex-mail-") as folder:
        copy = Path(folder) / f"attachment{suffix}"
        copy.write_bytes(data)
        del data
        try:
            inspect(copy, limit_mb)  # empty, over the budget, or not what its name says: a reason, as for a file
            extraction = extractor(copy, sub)
            for segment in extraction.segments:
                segment.locator = f"{prefix}:{segment.locator}"
                segment.extra = {**extra, **segment.extra, "attachment_type": file_type.value}
                if segment.modality in (Modality.TEXT, Modality.OCR):
                    budget.charge(len(segment.text), number)
                yield segment
            for note in extraction.losses.notes:
                losses.add(f"{where}: {note}")
        except ExtractionError as e:
            losses.add(f"{where}: {str(e).replace('skipped: ', '')}")
        except Exception as e:  # a decoder's bug in one attachment must not lose the mailbox
            log.exception("unexpected error reading %s", where)
            losses.add(f"{where} cannot be read: {type(e).__name__}: {e}")

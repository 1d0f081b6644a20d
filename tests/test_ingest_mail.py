"""E-mail the whole way: messages found by their words with subject, sender and date, attachments read by their
own extractors and linked to their message, the `from:`/`subject:` filters and the message's date.

Messages are made by the standard library (email.message.EmailMessage, written into a mailbox by mailbox.mbox);
real messages from CPython's own e-mail tests are added where that suite is installed. Real models and the
embedded store, as tests/test_ingest_html.py does.
"""

from __future__ import annotations

import mailbox
import shutil
import sysconfig
from email.message import EmailMessage
from pathlib import Path

import pymupdf
import pytest

from ingest.catalog import FAILED, INDEXED
from ingest.mail import count_messages, extract_mail, mbox_messages
from omnidex.service import Omnidex
from retrieval.present import hit_json, label, mail_line, place
from tests.conftest import make_settings

REAL_MESSAGES = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"


def pdf_bytes(text: str) -> bytes:
    with pymupdf.open() as doc:
        doc.new_page().insert_textbox(pymupdf.Rect(50, 50, 545, 790), text, fontsize=11)
        return doc.tobytes()


def message(subject: str, sender: str, date: str, body: str, message_id: str, **headers: str) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = subject, sender, headers.pop("to", "Harbour Office <office@port.test>")
    mail["Date"], mail["Message-ID"] = date, message_id
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return mail


def archive_messages() -> list[EmailMessage]:
    """Five messages of one mailbox: plain, HTML-only, a forwarded one, a latin-1 body in an unknown charset."""
    tide = message("Tide gauge calibration", "Alice Smith <alice@harbour.example.org>",
                   "Mon, 06 Nov 2023 09:15:00 +0000", "The tide gauge on pier four reads eleven centimetres high; "
                   "I recalibrated it against the benchmark on the lock wall.", "<tide-1@harbour.example.org>")
    crane = message("Crane inspection", "Bob Jones <bob@docks.test>", "Tue, 05 Mar 2024 14:02:00 +0100",
                    "The crane on the container quay failed its brake test: a hydraulic seal is worn.",
                    "<crane-7@docks.test>")
    html = EmailMessage()
    html["Subject"], html["From"] = "Ferry timetable", "Alice Smith <alice@harbour.example.org>"
    html["Date"], html["Message-ID"] = "Wed, 10 Apr 2024 08:00:00 +0200", "<ferry-2@harbour.example.org>"
    html.set_content("<html><body><nav>Home | Archive</nav><main><h1>Summer timetable</h1><p>From June the "
                     "night ferry to the lighthouse island leaves at eleven sharp.</p></main></body></html>",
                     subtype="html")
    forward = message("Fwd: dredging", "Carol Ng <carol@port.test>", "Thu, 02 May 2024 16:30:00 +0000",
                      "See below.", "<fwd-3@port.test>")
    inner = message("Dredging schedule", "Dredge Master <master@silt.test>", "Wed, 01 May 2024 10:00:00 +0000",
                    "The dredger clears the outer channel of silt every second Tuesday.", "<dredge@silt.test>")
    forward.add_attachment(inner)  # message/rfc822
    odd = EmailMessage()
    odd["Subject"] = "=?iso-8859-1?q?Men=FC_f=FCr_die_Kantine?="  # an encoded word, as old mailers wrote them
    odd["From"], odd["Date"] = "=?utf-8?q?J=C3=BCrgen?= <kantine@port.test>", "Fri, 03 May 2024 12:00:00 +0200"
    odd["Message-ID"] = "<menu@port.test>"
    odd.set_payload("Heute gibt es Gemüsesuppe mit Räucheraal und Kartoffelpüree.".encode("latin-1"))
    odd["Content-Type"] = "text/plain; charset=klingon"  # a charset no codec knows: the text is guessed
    odd["Content-Transfer-Encoding"] = "8bit"
    return [tide, crane, html, forward, odd]


def report_message() -> EmailMessage:
    mail = message("Quarterly lighthouse report", "Alice Smith <alice@harbour.example.org>",
                   "Mon, 01 Jul 2024 10:00:00 +0200", "Hi all, the quarterly report is attached.",
                   "<report-q2@harbour.example.org>")
    mail.add_alternative("<html><body><p>Hi all, the <b>quarterly</b> report is attached.</p></body></html>",
                         subtype="html")
    mail.add_attachment(pdf_bytes("The lighthouse keeper logged forty-two passing freighters and one "
                                  "lost sailing dinghy towed back to the slipway."),
                        maintype="application", subtype="pdf", filename="report.pdf")
    mail.add_attachment(b"PK\x03\x04 not read", maintype="application", subtype="zip", filename="photos.zip")
    return mail


@pytest.fixture(scope="module")
def mail_index(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("mail")
    docs = root / "docs"
    docs.mkdir()
    box = mailbox.mbox(docs / "harbour.mbox")
    for mail in archive_messages():
        box.add(mail)
    box.flush()
    box.close()
    (docs / "report.eml").write_bytes(bytes(report_message()))
    (docs / "photo.mbox").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    (docs / "notes.eml").write_text("Remember to buy rope.\nAnd paint for the hull.\n")
    for name in ("msg_02.txt", "msg_07.txt"):  # a digest of five messages; a GIF attachment
        if (REAL_MESSAGES / name).exists():
            shutil.copy(REAL_MESSAGES / name, docs / name.replace(".txt", ".eml"))
    app = Omnidex(make_settings(root / "data"))
    report = app.ingest([docs])
    yield app, report, docs
    app.close()


def test_mail_lands_and_files_that_are_no_mail_fail_clearly(mail_index) -> None:
    _, report, _ = mail_index
    outcomes = {o.path.name: o for o in report.outcomes}
    assert outcomes["harbour.mbox"].status == INDEXED and outcomes["report.eml"].status == INDEXED
    assert not outcomes["harbour.mbox"].partial and not outcomes["report.eml"].partial
    assert outcomes["photo.mbox"].status == FAILED and "not an mbox mailbox" in outcomes["photo.mbox"].error
    assert "PNG" in outcomes["photo.mbox"].error
    assert outcomes["notes.eml"].status == FAILED and "no mail headers" in outcomes["notes.eml"].error


def test_the_mailbox_is_split_as_mailbox_reads_it(mail_index) -> None:
    _, _, docs = mail_index
    path = docs / "harbour.mbox"
    box = mailbox.mbox(path, create=False)
    try:
        theirs = [box.get_bytes(key) for key in box.iterkeys()]
    finally:
        box.close()
    ours = [data for data, cut in mbox_messages(path, 1 << 20)]
    assert count_messages(path) == len(ours) == len(theirs) == 5
    # The same bytes, but for the blank line before the next "From " line that mailbox drops.
    assert [o.rstrip(b"\n") for o in ours] == [t.rstrip(b"\n") for t in theirs]


def test_a_search_lands_on_the_message_with_its_subject_sender_and_date(mail_index) -> None:
    app, _, _ = mail_index
    top = app.search("crane on the container quay failed its brake test", limit=3)[0]
    assert Path(top.path).name == "harbour.mbox" and top.file_type == "mail"
    assert top.payload["message"] == 2 and top.payload["message_id"] == "<crane-7@docks.test>"
    assert top.payload["subject"] == "Crane inspection" and top.payload["sender"] == "Bob Jones <bob@docks.test>"
    assert top.payload["sent"] == "2024-03-05T14:02:00+01:00" and top.payload["date"] == top.payload["sent"]
    assert top.payload["recipients"] == ["Harbour Office <office@port.test>"]
    assert place(top) == "message 2" and label(top) == "harbour.mbox · message 2"
    assert mail_line(top) == "Crane inspection · Bob Jones <bob@docks.test> · 2024-03-05"
    row = hit_json(top)
    assert row["mail"]["subject"] == "Crane inspection" and row["mail"]["message"] == 2
    assert row["mail"]["attachment"] is None

    ferry = app.search("night ferry to the lighthouse island", limit=3)[0]  # an HTML-only message
    assert ferry.payload["message"] == 3 and ferry.payload["subject"] == "Ferry timetable"
    assert "Summer timetable" in ferry.text and "Home | Archive" not in ferry.text
    dredge = app.search("dredger clears the outer channel of silt", limit=3)[0]  # inside a forwarded message
    assert dredge.payload["message"] == 4 and "Dredging schedule" in dredge.text
    by_subject = app.search("tide gauge calibration", limit=3)[0]
    assert by_subject.payload["message"] == 1


def test_an_attachment_is_read_by_its_extractor_and_linked_to_its_message(mail_index) -> None:
    app, _, _ = mail_index
    top = app.search("lighthouse keeper logged passing freighters and a lost dinghy", limit=3)[0]
    assert Path(top.path).name == "report.eml" and top.file_type == "mail"
    assert top.payload["attachment"] == "report.pdf" and top.payload["attachment_type"] == "pdf"
    assert top.payload["attachment_of"] == "<report-q2@harbour.example.org>" and top.page == 1
    assert top.payload["subject"] == "Quarterly lighthouse report" and top.payload["message"] == 1
    assert place(top) == "report.pdf, page 1" and hit_json(top)["mail"]["attachment_of"] == top.payload["message_id"]
    body = app.search("the quarterly report is attached", limit=3)[0]
    assert Path(body.path).name == "report.eml" and "attachment" not in body.payload
    assert "Attachments: report.pdf, photos.zip" in body.text  # a zip is named, not read
    assert body.payload["date"].startswith("2024-07-01")


def test_from_and_subject_filters(mail_index) -> None:
    app, _, _ = mail_index
    for sender in ("alice", "alice@harbour.example.org", "harbour.example.org", "example.org", '"Alice Smith"',
                   "smith"):
        hits = app.search(f"from:{sender} lighthouse", cutoff=False, group=False, limit=50)
        assert hits and all("alice" in h.payload["sender"].lower() for h in hits), sender
        assert {h.payload.get("subject") for h in hits} <= {"Tide gauge calibration", "Ferry timetable",
                                                            "Quarterly lighthouse report"}
    bob = app.search("from:bob@docks.test,carol brake test", cutoff=False, group=False, limit=50)
    assert bob and {h.payload["sender"].split()[0] for h in bob} <= {"Bob", "Carol"}
    assert app.search("from:nobody@nowhere.test lighthouse", cutoff=False) == []
    assert app.search("from:jürgen Suppe", cutoff=False)[0].payload["subject"] == "Menü für die Kantine"
    subject = app.search("subject:crane brake", cutoff=False, group=False, limit=50)
    assert subject and {h.payload["subject"] for h in subject} == {"Crane inspection"}


def test_the_date_filter_reads_when_a_message_was_sent(mail_index) -> None:
    app, _, _ = mail_index
    early = app.search("before:2023-12-31 tide gauge pier four", cutoff=False, group=False, limit=50)
    assert early and {h.payload["message"] for h in early if Path(h.path).name == "harbour.mbox"} == {1}
    late = app.search("after:2024-01-01 tide gauge pier four", cutoff=False, group=False, limit=50)
    assert all(h.payload.get("message") != 1 or Path(h.path).name != "harbour.mbox" for h in late)


def test_odd_charsets_are_decoded_by_a_guess_and_recorded(mail_index) -> None:
    app, _, _ = mail_index
    top = app.search("Gemüsesuppe mit Räucheraal", limit=3)[0]
    assert top.payload["message"] == 5 and top.payload["subject"] == "Menü für die Kantine"
    assert top.payload["sender"] == "Jürgen <kantine@port.test>"
    assert "Gemüsesuppe mit Räucheraal und Kartoffelpüree" in top.text and top.payload["encoding_guessed"] is True


def test_real_messages(mail_index) -> None:
    app, report, docs = mail_index
    if not (docs / "msg_07.eml").exists():
        pytest.skip("CPython's e-mail test messages are not installed here")
    outcomes = {o.path.name: o for o in report.outcomes}
    assert outcomes["msg_07.eml"].status == INDEXED and outcomes["msg_02.eml"].status == INDEXED
    fish = [h for h in app.segments_of(app.search("dingus fish", limit=1)[0].asset_id)]
    picture = [s for s in fish if s.payload.get("attachment") == "dingusfish.gif"]
    assert picture and picture[0].modality == "image" and picture[0].payload["attachment_type"] == "image"
    assert picture[0].payload["sender"] == "Barry <barry@digicool.com>"
    digest = app.search("from:zzz.org subject:ppp testing", cutoff=False, group=False, limit=20)
    assert digest and all(Path(h.path).name == "msg_02.eml" for h in digest)
    testing = app.search("[Ppp] testing #3", cutoff=False, limit=3)[0]
    assert Path(testing.path).name == "msg_02.eml" and testing.payload["subject"] == "Ppp digest, Vol 1 #2 - 5 msgs"


def test_reingest_adds_nothing_and_a_deleted_mailbox_leaves_with_its_attachments(mail_index, tmp_path: Path
                                                                                  ) -> None:
    app, first, docs = mail_index
    before = app.status()
    again = app.ingest([docs])
    assert again.count("unchanged") == first.count("indexed")
    assert again.points_written == 0 and again.count("indexed") == 0
    assert app.status() == before

    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "report.eml").write_bytes(bytes(report_message()))
    solo = Omnidex(make_settings(tmp_path / "data"))
    try:
        solo.ingest([folder])
        asset = solo.search("lighthouse keeper freighters", limit=1)[0].asset_id
        assert any(s.payload.get("attachment") for s in solo.segments_of(asset))
        (folder / "report.eml").unlink()
        solo.ingest([folder])
        assert solo.segments_of(asset) == [] and solo.search("lighthouse keeper freighters", cutoff=False) == []
    finally:
        solo.close()


def test_extraction_of_an_eml_on_its_own(mail_index, tmp_path: Path) -> None:
    app, _, _ = mail_index
    path = tmp_path / "report.eml"
    path.write_bytes(bytes(report_message()))
    extraction = extract_mail(path, app.indexer.ctx)
    assert extraction.info == {"message_count": 1, "title": "Quarterly lighthouse report",
                               "created": "2024-07-01T10:00:00+02:00"}
    segments = list(extraction.segments)
    assert [s.locator for s in segments] == ["m1:c0", "m1:a1:p1:c0"]
    assert segments[0].text.startswith("Subject: Quarterly lighthouse report\nFrom: Alice Smith")
    assert "Hi all, the quarterly report is attached." in segments[0].text
    assert "<b>" not in segments[0].text and not extraction.losses

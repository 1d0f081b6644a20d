"""The library page: what is indexed, adding a folder or uploading files with per-file progress, what failed and
why, and re-indexing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from core.errors import IndexBusy, Refused
from omnidex import (
    EXTENSIONS,
    FAILED,
    INDEXED,
    WORDS,
    FileOutcome,
    IngestReport,
    Omnidex,
    Progress,
    Settings,
    over_size_limit,
    words_only_notice,
)
from ui.components import BADGES, get_app, index_changed
from ui.safety import escape_markdown, folder_bytes, literal, printable, upload_name

UPLOAD_TYPES = sorted(ext.lstrip(".") for ext in EXTENSIONS)


class PageProgress(Progress):
    """A progress bar over the files and a table that gains a row as each file finishes."""

    def __init__(self) -> None:
        self.bar = st.progress(0.0, text="Looking for files…")
        self.table = st.empty()
        self.rows: list[dict[str, object]] = []

    def file_started(self, path: Path, number: int, total: int) -> None:
        self.bar.progress((number - 1) / total, text=f"{number} of {total}: {literal(path.name)}")

    def file_finished(self, outcome: FileOutcome) -> None:
        self.rows.append(outcome_row(outcome))
        self.table.dataframe(self.rows, hide_index=True)

    def notice(self, message: str) -> None:
        st.info(escape_markdown(message))

    def done(self, report: IngestReport) -> None:
        self.bar.progress(1.0, text=f"Done: {len(report.outcomes)} files, {report.points_written} segments written, "
                                    f"{len(report.failures)} failed.")


def outcome_row(outcome: FileOutcome) -> dict[str, object]:
    """One file's line in a run's table; a file indexed only in part says so, and what was left out."""
    status = "indexed in part" if outcome.partial and outcome.status == INDEXED else outcome.status
    return {"file": printable(outcome.path.name), "status": status, "segments": outcome.segments,
            "reason": printable(outcome.error or outcome.partial or ""), "folder": printable(str(outcome.path.parent))}


def run_indexing(app: Omnidex, run: Callable[[PageProgress], IngestReport]) -> bool:
    """An indexing run with live progress, one at a time per server (Omnidex.indexing). Returns whether it ran."""
    try:
        with app.indexing():
            progress = PageProgress()
            report = run(progress)
            progress.done(report)
    except IndexBusy:
        st.warning("Another indexing run is in progress. Wait for it to finish, then try again.")
        return False
    st.session_state["last_run"] = [outcome_row(o) for o in report.outcomes]
    index_changed()
    return True


def run_adapt(app: Omnidex) -> None:
    """`omnidex adapt` from the page, one run at a time with indexing (both change picture vectors)."""
    try:
        with app.indexing(), st.spinner("Learning from this library's pictures and their words..."):
            report = app.adapt()
    except IndexBusy:
        st.warning("Another indexing run is in progress. Wait for it to finish, then try again.")
        return
    (st.success if report.kept else st.info)(report.message)
    if report.kept:
        index_changed()


def add_folder(app: Omnidex) -> bool:
    with st.form("add_folder", border=False):
        folder = st.text_input("Folder or file on this machine", placeholder="/home/me/Documents", key="folder_path")
        submitted = st.form_submit_button("Index it")
    if not submitted or not folder.strip():
        return False
    path = Path(folder.strip())
    try:
        return run_indexing(app, lambda progress: app.add_folder(path, progress, roots=Settings().library_roots))
    except Refused as e:
        st.error(escape_markdown(e.explain()))
        return False


def upload_files(app: Omnidex) -> bool:
    settings = Settings()
    limit_mb, quota_mb = settings.max_upload_mb, settings.upload_quota_mb
    # The browser is held to server.maxUploadSize (`omnidex serve` sets it); this page to Omnidex's own limits.
    uploads = st.file_uploader("Files to add", type=UPLOAD_TYPES, accept_multiple_files=True, key="uploads",
                               help=f"PDF, PowerPoint, pictures, audio and video; up to {limit_mb} MB each, "
                                    f"{quota_mb} MB in all uploads.")
    if not uploads or not st.button(f"Index {len(uploads)} uploaded file{'s' if len(uploads) > 1 else ''}"):
        return False
    target = app.uploads_dir
    held = folder_bytes(target)
    saved: list[Path] = []
    for upload in uploads:
        if over_size_limit(upload.size, limit_mb):
            st.error(f"{literal(upload.name)} is larger than {limit_mb} MB (`max_upload_mb`); add its folder "
                     "instead.")
            continue
        if over_size_limit(held + upload.size, quota_mb):
            st.error(f"{literal(upload.name)} was not kept: the uploads would then hold more than {quota_mb} MB "
                     f"(`upload_quota_mb`; {held / 2**20:.0f} MB are held now). Add its folder instead, or ask "
                     "whoever runs the server to raise the quota.")
            continue
        content = upload.getvalue()
        path = target / upload_name(upload.name, content)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        held += upload.size
        saved.append(path.absolute())
    return bool(saved) and run_indexing(app, lambda progress: app.ingest(saved, progress))


def show_counts(app: Omnidex) -> None:
    records = app.files()
    indexed = [r for r in records if r.status == INDEXED]
    searchable = app.searchable()
    per_type = Counter(r.file_type for r in records if r.status in (INDEXED, WORDS))
    per_modality = app.counts("modality")
    columns = st.columns(7)
    columns[0].metric("Searchable by words", searchable["by_words"],
                      help="Files read: search finds them by the words they hold.")
    columns[1].metric("Searchable fully", searchable["fully"],
                      help="Files whose meaning is embedded too: search also finds them by what they are about.")
    columns[2].metric("Failed", sum(1 for r in records if r.status == FAILED))
    columns[3].metric("Indexed in part", sum(1 for r in indexed if r.partial))
    for column, (file_type, count) in zip(columns[4:], per_type.most_common(3)):
        column.metric(f"{file_type} files", count)
    if searchable["words_only"]:
        st.caption(escape_markdown(f"{words_only_notice(searchable['words_only'])} as indexing goes on (or in the "
                                   "next run, when one was stopped)."))
    if per_modality:
        st.caption("Segments: " + " · ".join(f"{BADGES.get(m, (m,))[0]} {n}" for m, n in sorted(per_modality.items())))


def show_failures(app: Omnidex) -> None:
    failed = app.failed_files()
    if not failed:
        return
    st.subheader(f"Files that could not be indexed ({len(failed)})")
    st.caption("Fix or replace each file, then re-index; the reason says what went wrong.")
    st.dataframe([{"file": printable(Path(r.path).name), "reason": printable(r.error or ""),
                   "folder": printable(str(Path(r.path).parent))} for r in failed], hide_index=True)


def show_partial(app: Omnidex) -> None:
    partial = app.partial_files()
    if not partial:
        return
    st.subheader(f"Files indexed only in part ({len(partial)})")
    st.caption("Search finds what was indexed of each; the note says what was left out and why (a damaged file, "
               "or a work budget such as OMNIDEX_MAX_TEXT_CHARS_PER_PAGE).")
    st.dataframe([{"file": printable(Path(r.path).name), "left out": printable(r.partial or ""),
                   "folder": printable(str(Path(r.path).parent))} for r in partial], hide_index=True)


def main() -> None:
    st.title("Library")
    app = get_app()
    counts = st.container()  # filled last, so it includes what this run indexed
    folder_tab, upload_tab = st.tabs(["Add a folder", "Upload files"])
    with folder_tab:
        ran = add_folder(app)
    with upload_tab:
        ran = upload_files(app) or ran
    refresh, rebuild, teach = st.columns(3)
    if refresh.button("Re-index", help="Re-reads changed files, retries failed ones, drops vanished ones and finds "
                                       "new files in folders added here. Unchanged files are skipped."):
        ran = run_indexing(app, app.refresh)
    if rebuild.button("Re-embed everything", help="Extracts and embeds every file again, e.g. after changing "
                                                  "models. Takes as long as the first indexing did."):
        ran = run_indexing(app, lambda progress: app.reindex(app.library_folders(), progress))
    if teach.button("Adapt to this library", help="Teaches picture search this library's own pairs: figures and "
                                                   "their captions, slides and their titles, video frames and what "
                                                   "is said over them. Kept only if it finds held-out pairs "
                                                   "better; `omnidex adapt --revert` undoes it."):
        run_adapt(app)
    if not ran and st.session_state.get("last_run"):
        st.caption("Last run")
        st.dataframe(st.session_state["last_run"], hide_index=True)
    show_failures(app)
    show_partial(app)
    with counts:
        show_counts(app)


main()

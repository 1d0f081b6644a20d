"""Streamlit entry point: `omnidex serve` (or `streamlit run app.py`): the search, library and ask pages.

Every page runs behind the login (ui/access.py) and inside one error boundary: an error the pages did not
handle is shown as a sentence (ui/errors.py), its traceback only in the server's log.
"""

from pathlib import Path

import streamlit as st

from ui.access import require_login
from ui.errors import explanation

ICON = Path(__file__).resolve().parent / "ui" / "icon.png"  # served by this server; Omnidex makes no outside request

st.set_page_config(page_title="Omnidex", page_icon=str(ICON), layout="wide")
require_login()
pages = st.navigation([
    st.Page("ui/search_page.py", title="Search", icon=":material/search:", url_path="search", default=True),
    st.Page("ui/library_page.py", title="Library", icon=":material/library_books:", url_path="library"),
    st.Page("ui/ask_page.py", title="Ask", icon=":material/question_answer:", url_path="ask"),
])
try:
    pages.run()
except Exception as error:  # st.stop() and st.rerun() are BaseExceptions and pass through
    st.error(explanation(error))

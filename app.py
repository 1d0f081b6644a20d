"""Streamlit entry point: `omnidex serve` (or `streamlit run app.py`): the search, library and ask pages.

Every page runs behind the login (ui/access.py) and inside one error boundary: an error the pages did not
handle is shown as a sentence (ui/errors.py), its traceback only in the server's log.
"""

from pathlib import Path

import streamlit as st

from ui.access import may_enter, require_login
from ui.errors import explanation

ICON = Path(__file__).resolve().parent / "ui" / "icon.png"  # served by this server; Omnidex makes no outside request

st.set_page_config(page_title="Omnidex", page_icon=str(ICON), layout="wide")
# Streamlit serves the default page at / only, never at its url_path: /search is the same page registered a
# second time, hidden from the menu, so a link to /search?q=... opens that search.
SEARCH = "ui/search_page.py"
pages = st.navigation([
    st.Page(SEARCH, title="Search", icon=":material/search:", default=True),
    st.Page("ui/library_page.py", title="Library", icon=":material/library_books:", url_path="library"),
    st.Page("ui/ask_page.py", title="Ask", icon=":material/question_answer:", url_path="ask"),
    st.Page(SEARCH, title="Search", icon=":material/search:", url_path="search", visibility="hidden"),
], position="sidebar" if may_enter() else "hidden")  # no menu before the password is given
require_login()
try:
    pages.run()
except Exception as error:  # st.stop() and st.rerun() are BaseExceptions and pass through
    st.error(explanation(error))

"""Streamlit entry point: `streamlit run app.py` (or `omnidex serve`): the search, library and ask pages."""

import streamlit as st

st.set_page_config(page_title="Omnidex", page_icon=":material/search:", layout="wide")
st.navigation([
    st.Page("ui/search_page.py", title="Search", icon=":material/search:", url_path="search", default=True),
    st.Page("ui/library_page.py", title="Library", icon=":material/library_books:", url_path="library"),
    st.Page("ui/ask_page.py", title="Ask", icon=":material/question_answer:", url_path="ask"),
]).run()

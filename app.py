"""Streamlit entry point: `streamlit run app.py` (or `omnidex serve`)."""

from ui.search_page import main

main()

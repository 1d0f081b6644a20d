"""The browser UI (Streamlit)."""

"""The login page: off loopback, only someone who knows the configured password uses the UI (the rules are
omnidex/access.py)."""

from __future__ import annotations

import time

import streamlit as st

from omnidex import Settings
from omnidex.access import PASSWORD_HOWTO, configured_password, is_loopback, password_matches

SIGNED_IN = "signed_in"
WRONG_PASSWORD_DELAY_S = 1.0  # each wrong guess costs the guesser a second


def require_login() -> None:
    """Stop the page unless this session may use the UI: on loopback without a password anyone on this machine may;
    otherwise a password must be configured and have been given in this session."""
    settings = Settings()
    password = configured_password(settings)
    address = st.get_option("server.address")
    if not password:
        if is_loopback(address):
            return
        st.error("This Omnidex can be reached from other machines, and no password is set, so it shows nothing. "
                 + PASSWORD_HOWTO)
        st.stop()
    if st.session_state.get(SIGNED_IN):
        return
    st.title("Omnidex")
    with st.form("login", border=False):
        given = st.text_input("Password", type="password", key="password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        if password_matches(given, password):
            st.session_state[SIGNED_IN] = True
            st.rerun()
        time.sleep(WRONG_PASSWORD_DELAY_S)
        st.error("That password is not the one this Omnidex was set up with. Check it and try again.")
    st.stop()

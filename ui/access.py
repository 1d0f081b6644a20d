"""The login page: off loopback, only someone who knows the configured password uses the UI (the rules are
omnidex/access.py)."""

from __future__ import annotations

import time

import streamlit as st

from omnidex import Settings
from omnidex.access import PASSWORD_HOWTO, configured_password, is_loopback, password_matches

SIGNED_IN = "signed_in"
WRONG_PASSWORD_DELAY_S = 1.0  # each wrong guess costs the guesser a second


def may_enter() -> bool:
    """Whether this session may see the pages: on loopback without a password anyone on this machine may;
    otherwise a password must be configured and have been given in this session."""
    if configured_password(Settings()):
        return bool(st.session_state.get(SIGNED_IN))
    return is_loopback(st.get_option("server.address"))


def require_login() -> None:
    """Stop the page unless this session may use the UI (`may_enter`), asking for the password.

    Call it after st.navigation has read the page from the URL: signing in reruns that page, so a link to
    /library or /search?q=... opens what it names once the password is given."""
    if may_enter():
        return
    password = configured_password(Settings())
    if not password:
        st.error("This Omnidex can be reached from other machines, and no password is set, so it shows nothing. "
                 + PASSWORD_HOWTO)
        st.stop()
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

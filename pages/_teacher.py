"""The teacher's corner of the sidebar: the teacher key unlocks the class-wide actions for this browser session.

Not a page (the underscore keeps it out of the navigation). With the key (see core/classroom.py) the teacher
may remove any or all class drawings (Class drawings page), delete any run (Results), stop any training (Train)
and set how many trainings each student may run at once (here). The key is typed into a password field that is
emptied at once, and never shown on a page or put in a link; pages ask `is_teacher()`.
"""

import streamlit as st

from core import classroom, text

TEACHER_STATE_KEY = "teacher"

# The terminal that started the server shows the key (or says it is the configured one) when the app starts.
classroom.announce_teacher_key()


def is_teacher() -> bool:
    """Whether this browser session has entered the teacher key."""
    return st.session_state.get(TEACHER_STATE_KEY) is True


def sidebar_panel() -> None:
    """The teacher panel: the key field, or (once unlocked) the class limits and a way to lock again."""
    with st.expander("Teacher", icon=":material/school:", expanded=False):
        if not is_teacher():
            # A form, cleared on submit: the key leaves the page at once and never comes back in a rerun.
            with st.form("teacher_unlock", clear_on_submit=True, border=False):
                typed = st.text_input("Teacher key", type="password", key="teacher_key_typed",
                                      max_chars=classroom.MAX_KEY_LENGTH,
                                      help="Printed in the terminal that started the app, or set in "
                                           f"{classroom.TEACHER_KEY_VARIABLE}.")
                unlocked = st.form_submit_button("Unlock the class-wide actions", icon=":material/lock_open:")
            if unlocked:
                try:
                    right = classroom.try_teacher_key(typed, st.context.ip_address)
                except classroom.TooManyWrongKeys as error:
                    st.error(str(error), icon=":material/timer:")
                else:
                    if right:
                        st.session_state[TEACHER_STATE_KEY] = True
                        st.rerun()
                    st.error("That is not the teacher key.", icon=":material/lock:")
            st.caption("Students can remove only their own drawings and runs; the teacher key unlocks the "
                       "class-wide actions.")
            return
        st.success("Teacher mode: you can remove any drawing, delete any run and stop any training.",
                   icon=":material/school:")
        st.caption("It lasts while this tab stays open: a reload or a new tab asks for the key again, so a "
                   "student who takes over the computer later is not a teacher.")
        limit = st.number_input("Trainings per student at once", min_value=1,
                                max_value=classroom.MAX_JOBS_PER_STUDENT_LIMIT,
                                value=classroom.max_jobs_per_student(), step=1, key="teacher_max_jobs")
        if limit != classroom.max_jobs_per_student():
            try:
                classroom.set_max_jobs_per_student(int(limit))
            except (ValueError, OSError) as error:
                st.error(f"The limit could not be saved ({text.markdown_escape(error)}).")
        if st.button("Leave teacher mode", icon=":material/lock:", key="teacher_lock"):
            st.session_state.pop(TEACHER_STATE_KEY, None)
            st.rerun()

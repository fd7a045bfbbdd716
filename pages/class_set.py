"""Class drawings: the digits the class drew and labelled, kept as a test set any model can be scored on.

(Being built: see issue 7.)
"""

import streamlit as st

st.title(":material/groups: Class drawings")
st.info("Coming in this lesson: the class's own labelled drawings, as a test set for every model.")

"""Inside the network: what each layer of a trained model makes of the current drawing or of a test image.

(Being built: see issue 7.)
"""

import streamlit as st

st.title(":material/visibility: Inside the network")
st.info("Coming in this lesson: the activations of every layer and the first layer's filters.")

"""Home: what Neural Canvas is, and the four steps of a lesson, each a card with a link to its page.

The first screen a class sees, so it must appear at once: this page imports nothing from `core` and never
TensorFlow (the sidebar, drawn by the router, tells the device without importing it either).
"""

import streamlit as st

# The four steps of a lesson, in order: (page file, step name, icon, what the class does there).
LESSON_STEPS = (
    ("pages/datasets.py", "Datasets", ":material/photo_library:",
     "Look at the images and their labels: how many, what shape, how many of each class."),
    ("pages/train.py", "Train", ":material/model_training:",
     "Pick an architecture and train it, watching loss and accuracy grow live."),
    ("pages/results.py", "Results", ":material/analytics:",
     "Study the test predictions, every mistake and the confusion matrix."),
    ("pages/draw.py", "Draw", ":material/draw:",
     "Draw a digit with the mouse and see what the network reads."),
)


def introduction() -> None:
    st.title(":material/draw: Neural Canvas")
    st.markdown(
        "#### Train a neural network on images in front of your class, and watch it learn.\n"
        "Choose a dataset, build a network, follow its training live, find out where it goes wrong, "
        "then draw a digit for it to read."
    )


def lesson_steps() -> None:
    st.subheader("A lesson in four steps")
    columns = st.columns(len(LESSON_STEPS))
    for number, (column, (page, name, icon, description)) in enumerate(zip(columns, LESSON_STEPS), start=1):
        with column.container(border=True, height="stretch"):
            st.markdown(f"## {icon}")
            st.markdown(f"#### {number} · {name}")
            st.markdown(description)
            # Pushes the link to the bottom of the card, so the four links line up whatever the text length.
            st.space("stretch")
            st.page_link(page, label=f"Open {name}", icon=":material/arrow_forward:")


def offline_note() -> None:
    st.info(
        "**Works offline.** Neural Canvas ships with a sample of 10,000 MNIST digits, so a whole lesson runs "
        "with no network and no set-up. MNIST, Fashion-MNIST and CIFAR-10 can be downloaded from the "
        "Datasets page.",
        icon=":material/wifi_off:",
    )


introduction()
lesson_steps()
offline_note()

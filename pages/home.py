"""Home: what Neural Canvas is, the four steps of a lesson and two to go further, each a card with a link.

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

# Where a lesson goes next, once the class has a model and drawings.
FURTHER_STEPS = (
    ("pages/inside.py", "Inside the network", ":material/visibility:",
     "Follow a drawing through every layer: the feature maps, the dense units and the learned filters."),
    ("pages/class_set.py", "Class drawings", ":material/groups:",
     "Keep the digits the class drew, with their true labels, and score every model on them."),
)


def introduction() -> None:
    st.title(":material/draw: Neural Canvas")
    st.markdown(
        "#### Train a neural network on images in front of your class, and watch it learn.\n"
        "Choose a dataset, build a network, follow its training live, find out where it goes wrong, "
        "then draw a digit for it to read."
    )


def step_cards(title: str, steps: tuple, first_number: int) -> None:
    st.subheader(title)
    # Always four columns, so the cards of both rows have the same width.
    columns = st.columns(len(LESSON_STEPS))
    for number, (column, (page, name, icon, description)) in enumerate(zip(columns, steps), start=first_number):
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
step_cards("A lesson in four steps", LESSON_STEPS, 1)
step_cards("Going further", FURTHER_STEPS, len(LESSON_STEPS) + 1)
offline_note()

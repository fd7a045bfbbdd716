"""Neural Canvas core: datasets, architectures, training, evaluation, preprocessing and the run store.

Everything here works without Streamlit, from a notebook or from the command line (`python -m core --help`).
Heavy libraries (TensorFlow, Keras) are imported by the modules that need them, never by this package file,
so that `import core` stays cheap.
"""

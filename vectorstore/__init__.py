"""The ground floor: the Chroma store, the embedders, the text analyser, the saved BM25 index and retrieval.

Imports nothing of articlebot's: what it needs to know comes as the protocols in vectorstore/config.py.
"""

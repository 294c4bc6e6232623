"""The middle floor: articles in. Loaders (files, folders, pages, feeds, collections), cleaning, chunking, the
pipeline that writes to the store, the one fetcher every URL goes through, and following sources.

May import: `vectorstore`. Never `bot`: what it needs to know comes as the protocols in ingest/config.py.
"""

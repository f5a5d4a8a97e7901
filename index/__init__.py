"""Podcast transcript search: parse, chunk, embed, store and search. Knows nothing about Discord."""

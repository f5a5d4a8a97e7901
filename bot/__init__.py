"""The Discord layer: slash commands in, search library calls and pure rendering out."""

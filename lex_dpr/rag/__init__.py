"""Answering legal questions from retrieved passages: question types, prompts, the answer loop and its checks.

``classify`` sorts a question into one of six types with hand-written Korean cue rules; ``prompts`` turns
the question, its type and the retrieved passages into chat messages (templates are package data under
``lex_dpr/resources/prompts/``, overridable from a folder) and checks the generated answer for citations
and Korean text.
"""

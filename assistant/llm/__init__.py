"""Optional generative answers: a language model writes, the verifier checks, the extractive answer backs up.

backends.py  builds the model client for the configured backend, probes it, describes its failures
prompt.py    the prompt: passages as untrusted data between unguessable delimiters
markdown.py  makes the model's text safe to render as Markdown, also while it streams (pure)
generate.py  the Generator: streams, sanitises, verifies and assembles the cited answer

Nothing is imported here, so `import assistant.llm.markdown` stays as cheap as the module itself.
"""

"""Transcripts made from episode audio, for feeds that publish none (docs/transcription.md).

`model` finds and verifies the Whisper model, `decode` turns any audio file into 16 kHz mono samples,
`recognize` runs faster-whisper on them with word timestamps and voice activity detection, `formats` writes the
result as Podcasting 2.0 JSON (what the index reads) and WebVTT, `cache` keeps every transcript made so no
episode is transcribed twice, `pipeline` downloads and transcribes a run's audio-only episodes, and `scoring`
measures a transcript against a known script (tests, benchmark).
"""

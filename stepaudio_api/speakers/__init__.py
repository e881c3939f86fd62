"""Who speaks: a speaker encoder (Resemblyzer's pretrained d-vector model, run in NumPy), the
diarization of a recording into speaker turns, and the book of speakers a request knows."""

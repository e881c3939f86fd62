"""Pure audio functions: decode any input, encode (streaming) wav/mp3/opus/aac/flac/pcm."""

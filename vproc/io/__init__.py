"""Reading and writing media: PyAV sources, FFmpeg sinks, and the conversions between them."""

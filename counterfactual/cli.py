"""Command-line interface (placeholder, grows with the sweep engine)."""
def main(argv=None) -> int:
    return 0

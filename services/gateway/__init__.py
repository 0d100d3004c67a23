"""The HTTP gateway: health professionals' software calls it; it produces and answers from events."""

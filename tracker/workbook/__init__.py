"""Learner workbooks: the layout (described once), the writer, the reader, the safety gate."""

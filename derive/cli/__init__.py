"""The command line: one module per command, each thin (read the options, call the library,
print). ``main`` holds the group, the entry point and the shared way of delivering output."""

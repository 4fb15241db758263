"""Counts the tokens of $CORPUS and prints the most common ones."""

import collections
import os

tokens = os.environ.get("CORPUS", "").split()
counts = collections.Counter(tokens)
print(f"{len(tokens)} tokens, {len(counts)} distinct")
for token, count in counts.most_common(3):
    print(f"{token}\t{count}")

"""The text toolkit: every rule about words, sentences, figures and phrasing, once.

- :mod:`~assistant.text.words`: the stop lists, words and names;
- :mod:`~assistant.text.sentences`: the one sentence splitter (abstracts, answers, claims);
- :mod:`~assistant.text.figures`: numbers with their units, as questions, abstracts and
  claims state them;
- :mod:`~assistant.text.polarity`: negation, direction, strength and hedge words;
- :mod:`~assistant.text.coordination`: lists read distributively ("A and B respectively in
  X and Y");
- :mod:`~assistant.text.phrasing`: how a question is put (a request for papers, a
  back-reference, a compound question, a quoted title, the kind of fact asked for).

No other module of the query side compiles a regular expression for any of these
(``tests/test_layers.py`` checks it), so a rule changes in one place.
"""

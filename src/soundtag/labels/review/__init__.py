"""Label review: a local web page where a person verifies, most doubted first, the labels of unverified clips.

:mod:`.ranking` orders the clips by the cleaners' doubt, :mod:`.decisions` keeps ``reviewed.csv``,
:mod:`.pictures` draws log-mel pictures, and :mod:`.server` (Starlette, the ``review`` extra) serves the page.
"""

"""A Sqitch project written the way ``sqitch add`` / ``sqitch tag`` / ``sqitch rework`` lay
it out (plan, deploy/, revert/, verify/), in portable SQL, for tests/test_formats_sqitch.py and
the cross-dialect suite."""

from __future__ import annotations

WHO = "Robin Reader <robin@example.org>"

PLAN = f"""\
%syntax-version=1.0.0
%project=library
%uri=https://example.org/library/

shelves 2024-02-01T09:00:00Z {WHO} # Shelves for the books.
books [shelves] 2024-02-01T09:10:00Z {WHO} # Books, each on a shelf.
@v1.0 2024-02-02T12:00:00Z {WHO} # First release.

# a comment line between changes
book_count [books] 2024-02-03T08:00:00Z {WHO} # How many books.
@v1.1 2024-02-04T08:00:00Z {WHO} # Second release.
book_count [book_count@v1.1 books] 2024-02-05T08:00:00Z {WHO} # How many books per shelf.
"""

COUNT_ALL = "CREATE VIEW book_count AS SELECT COUNT(*) AS n FROM books;\n"
COUNT_PER_SHELF = ("CREATE VIEW book_count AS SELECT shelf_id, COUNT(*) AS n FROM books"
                   " GROUP BY shelf_id;\n")

FILES = {
    "sqitch.plan": PLAN,
    "sqitch.conf": "[core]\n\tengine = sqlite\n",
    "deploy/shelves.sql": "-- Deploy library:shelves to sqlite\n\nBEGIN;\n\n"
                          "CREATE TABLE shelves (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT"
                          " NULL);\nINSERT INTO shelves (id, label) VALUES (1, 'fiction; new');"
                          "\n\nCOMMIT;\n",
    "revert/shelves.sql": "-- Revert library:shelves from sqlite\n\nBEGIN;\n\nDROP TABLE shelves;"
                          "\n\nCOMMIT;\n",
    "verify/shelves.sql": "SELECT id, label FROM shelves WHERE 0 = 1;\n",
    "deploy/books.sql": "-- Deploy library:books to sqlite\n-- requires: shelves\n\n"
                        "CREATE TABLE books (id INTEGER PRIMARY KEY, shelf_id INTEGER NOT NULL"
                        " REFERENCES shelves (id), title VARCHAR(80) NOT NULL);\n"
                        "INSERT INTO books (id, shelf_id, title) VALUES (1, 1, 'One'),"
                        " (2, 1, 'Two');\n",
    "revert/books.sql": "DROP TABLE books;\n",
    # the first version of book_count, kept under the tag it was reworked after
    "deploy/book_count@v1.1.sql": COUNT_ALL,
    "revert/book_count@v1.1.sql": "DROP VIEW book_count;\n",
    "verify/book_count@v1.1.sql": "SELECT n FROM book_count WHERE 0 = 1;\n",
    "deploy/book_count.sql": "DROP VIEW book_count;\n" + COUNT_PER_SHELF,
    "revert/book_count.sql": "DROP VIEW book_count;\n" + COUNT_ALL,
    "verify/book_count.sql": "SELECT shelf_id, n FROM book_count WHERE 0 = 1;\n",
}
IDS = ["shelves", "books", "book_count@v1.1", "book_count"]

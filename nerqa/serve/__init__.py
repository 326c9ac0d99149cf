"""`nerqa serve`: a Label Studio ML backend with active learning.

`nerqa serve`: a Label Studio ML backend with active learning (`nerqa.serve.backend`), its
SQLite store (`nerqa.serve.store`) and the web app on Label Studio's SDK (`nerqa.serve.app`)."""

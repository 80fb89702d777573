"""Parts of scripts/make_hf_fixtures.py: each module has one job, and only build.py and
tokenizer_files.py need transformers."""

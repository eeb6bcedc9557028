"""Understanding: Chinese text normalisation, jieba dictionaries, custom Rasa components."""

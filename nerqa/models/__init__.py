"""The models: loading, training, predicting, and where they run.

The models: where they run (`runtime`), loading local Hugging Face folders (`loading`), the
token classifier (`classifier`), sub-word windows (`windows`), training (`training`),
prediction (`predict`), one frozen-encoder pass shared by the fold heads (`frozen`), and the
fold heads: the fast head on frozen features (`head`) and the top-layer mode (`top`)."""

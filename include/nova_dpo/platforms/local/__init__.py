"""The local platform: real DPO training, evaluation and a model store on this machine, no cloud."""

"""lambdaform: service file -> validated model -> cdktf stacks -> synth -> artifacts and HCL."""

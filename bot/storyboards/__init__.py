"""A film made together: a storyboard whose shots members add, filmed one after the other
(each from the last frame of the one before), then stitched into one film."""

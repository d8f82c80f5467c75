//! Renderers of a [`super::Report`]: human, json, sarif, github. (in progress)

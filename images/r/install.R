# The R packages of the campushub R image, installed at build time as binaries from Posit
# Package Manager (Rprofile.site). Add a CRAN package to the list; a GitHub one with
# remotes::install_github("owner/repo@ref"). Ncpus speeds up the few built from source.
# warn = 2: a package that fails to install stops the build (R would only warn).
options(warn = 2)
install.packages(c(
  "IRkernel",
  "remotes",
  "tidyverse",
  "rmarkdown",
  "knitr",
  "ggplot2",
  "infer",
  "openintro"
), Ncpus = 4)

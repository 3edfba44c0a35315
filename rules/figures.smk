# Stage 5: figures (plotnine, PDF + PNG) wrapped in report() with a caption each.

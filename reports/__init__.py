"""The education team's scheduled report: build (figures -> document -> HTML, PDF, CSV) and send.

The figures come from warehouse.report_metrics; this package only lays them out, draws
the charts and delivers the files. Nothing in a report names a person or links to a post.
"""

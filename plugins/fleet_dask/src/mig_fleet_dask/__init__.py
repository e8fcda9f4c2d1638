"""mig-fleet-dask: the ``dask`` fleet runner (``mig --targets ... --runner dask``)."""

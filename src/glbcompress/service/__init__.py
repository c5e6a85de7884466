"""The glbcompress web service: accounts, a dashboard, jobs that run the engine, blob storage.

    glbcompress serve                    # migrate the database, then serve on 127.0.0.1:8000

``create_app(settings)`` in ``app.py`` builds the application; everything it needs comes from
``GLBCOMPRESS_*`` environment variables (``settings.py``), with safe one-machine defaults. This
package imports the engine; the engine never imports it.
"""

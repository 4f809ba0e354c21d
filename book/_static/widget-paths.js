// Where require.js finds the front end of anywidget, the widget kind of chapter 2's convolution
// view: the copy served with the book (tools/offline_static.py), not a CDN. Loaded right after
// require.js and before the ipywidgets HTML manager (nb_ipywidgets_js in _config.yml).
(function () {
  const here = document.currentScript.src;   // .../_static/widget-paths.js
  requirejs.config({ paths: { anywidget: new URL("offline/anywidget", here).href } });
})();

// The API documentation page (/schema): Swagger UI over the live document, which it loads itself.
// Requests it sends with the session cookie carry the CSRF token, read from its cookie.
(function () {
  "use strict";
  var container = document.getElementById("swagger-container");
  var cookieName = container.dataset.csrfCookie;
  var headerName = container.dataset.csrfHeader;

  function cookie(name) {
    var found = document.cookie.split("; ").filter(function (part) { return part.indexOf(name + "=") === 0; })[0];
    return found ? decodeURIComponent(found.slice(name.length + 1)) : undefined;
  }

  window.SwaggerUIBundle({
    url: container.dataset.document,
    domNode: container,
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIStandalonePreset],
    requestInterceptor: function (request) {
      var token = cookie(cookieName);
      if (token !== undefined) request.headers[headerName] = token;
      return request;
    }
  });
})();

/* global window, SwaggerUIBundle */
// Starts Swagger UI on the API's own OpenAPI document. A file of its own, not an inline script, so the
// page keeps the API's Content-Security-Policy (scripts from this origin only).
window.addEventListener('DOMContentLoaded', function () {
  window.ui = SwaggerUIBundle({
    url: '/elements/api-v2/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    // The public validator badge would call validator.swagger.io: nothing leaves this origin.
    validatorUrl: null,
    // Secrets typed into "Authorize" stay in the tab's memory, never in storage.
    persistAuthorization: false,
  });
});

% rebase('layout', title='Error ' + str(int(error.code)))
<section class="card error-card">
  <h1>Something went wrong</h1>
  <p class="error-text">error {{int(error.code)}}: {{str(error)}}</p>
  <p><a href="{{root}}/">Back to the overview</a></p>
</section>
